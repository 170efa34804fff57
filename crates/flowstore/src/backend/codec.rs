//! How flows and atoms become rows of text columns, and back: every structured field is
//! JSON, so the one schema fits SQLite, PostgreSQL and MySQL alike.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::detail::{AtomDetail, AtomKind};
use crate::error::BackendError;
use crate::failure::Failure;

/// An atom as the columns of its row.
pub(super) struct AtomRow {
    pub uuid: String,
    pub name: String,
    pub kind: String,
    pub version: String,
    pub state: String,
    pub intention: String,
    pub meta: String,
    pub results: Option<String>,
    pub failure: Option<String>,
    pub revert_results: Option<String>,
    pub revert_failure: Option<String>,
}

impl AtomRow {
    pub(super) fn encode(atom: &AtomDetail) -> Result<AtomRow, BackendError> {
        let results = match atom.kind {
            AtomKind::Task => atom
                .result
                .as_ref()
                .map(|value| to_json("result", value))
                .transpose()?,
            AtomKind::Retry => Some(to_json("retry history", &atom.history)?),
        };
        Ok(AtomRow {
            uuid: atom.uuid.clone(),
            name: atom.name.clone(),
            kind: atom.kind.as_str().to_owned(),
            version: atom.version.clone(),
            state: atom.state.as_str().to_owned(),
            intention: atom.intention.as_str().to_owned(),
            meta: to_json("meta", &atom.meta)?,
            results,
            failure: encode_failure(atom.failure.as_ref())?,
            revert_results: atom
                .revert_result
                .as_ref()
                .map(|value| to_json("revert result", value))
                .transpose()?,
            revert_failure: encode_failure(atom.revert_failure.as_ref())?,
        })
    }

    pub(super) fn decode(self) -> Result<AtomDetail, BackendError> {
        let name = self.name;
        let corrupt = |what: &'static str, reason: String| BackendError::Corrupt {
            record: format!("atom `{name}`"),
            what,
            reason,
        };
        let kind: AtomKind = self
            .kind
            .parse()
            .map_err(|error| corrupt("kind", format!("{error}")))?;
        let mut atom = AtomDetail::new(name.clone(), self.uuid, kind);
        atom.version = self.version;
        atom.state = self
            .state
            .parse()
            .map_err(|error| corrupt("state", format!("{error}")))?;
        atom.intention = self
            .intention
            .parse()
            .map_err(|error| corrupt("intention", format!("{error}")))?;
        atom.meta = from_json::<Map<String, Value>>(&self.meta)
            .map_err(|reason| corrupt("meta", reason))?;
        match (kind, self.results) {
            (_, None) => {}
            (AtomKind::Task, Some(json)) => {
                atom.result = Some(from_json(&json).map_err(|reason| corrupt("result", reason))?);
            }
            (AtomKind::Retry, Some(json)) => {
                atom.history =
                    from_json(&json).map_err(|reason| corrupt("retry history", reason))?;
            }
        }
        atom.failure =
            decode_optional(self.failure).map_err(|reason| corrupt("failure", reason))?;
        atom.revert_result = decode_optional(self.revert_results)
            .map_err(|reason| corrupt("revert result", reason))?;
        atom.revert_failure = decode_optional(self.revert_failure)
            .map_err(|reason| corrupt("revert failure", reason))?;
        Ok(atom)
    }
}

pub(super) fn to_json(what: &'static str, value: &impl Serialize) -> Result<String, BackendError> {
    serde_json::to_string(value).map_err(|source| BackendError::Encode { what, source })
}

pub(super) fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|error| error.to_string())
}

fn encode_failure(failure: Option<&Failure>) -> Result<Option<String>, BackendError> {
    failure
        .map(|failure| to_json("failure", failure))
        .transpose()
}

fn decode_optional<T: DeserializeOwned>(json: Option<String>) -> Result<Option<T>, String> {
    json.as_deref().map(from_json).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use serde_json::json;

    #[test]
    fn an_atom_round_trips_through_its_row() {
        let mut atom = AtomDetail::new("my retry", "42", AtomKind::Retry);
        atom.state = State::Failure;
        atom.history
            .push(crate::detail::RetryAttempt::new(json!("a")));
        atom.failure = Some(Failure::new(vec!["E".into()], "boom", "trace"));
        atom.meta.insert("progress".into(), json!(0.5));
        let back = AtomRow::encode(&atom).unwrap().decode().unwrap();
        assert_eq!(back, atom);
    }

    #[test]
    fn a_row_with_an_unknown_state_is_reported_corrupt() {
        let mut row = AtomRow::encode(&AtomDetail::new("t", "1", AtomKind::Task)).unwrap();
        row.state = "DONE".into();
        let error = row.decode().unwrap_err();
        assert!(
            matches!(error, BackendError::Corrupt { what: "state", .. }),
            "{error}"
        );
        assert!(error.to_string().contains("atom `t`"), "{error}");
    }
}
