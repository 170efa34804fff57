//! Which atom (or transient injection) provides each name, and how a provided value is
//! taken out of a result.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::atom::ResultIndex;

/// Where a provided name's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The result of the atom of this name (the injector atom included).
    Atom(String),
    /// The values injected transiently into this storage.
    Transient,
}

/// One provider of a name: a source and where the value sits in its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provider {
    pub(crate) source: Source,
    pub(crate) index: ResultIndex,
}

impl Provider {
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match &self.source {
            Source::Atom(name) => name.clone(),
            Source::Transient => "(transient injection)".to_owned(),
        }
    }
}

/// Provided name → its providers, in the order they were registered.
#[derive(Debug, Default)]
pub(crate) struct Providers(BTreeMap<String, Vec<Provider>>);

impl Providers {
    /// Registers `provider` for `name`, once.
    pub(crate) fn add(&mut self, name: &str, provider: Provider) {
        let providers = self.0.entry(name.to_owned()).or_default();
        if !providers.contains(&provider) {
            providers.push(provider);
        }
    }

    /// The providers of `name`, if any.
    pub(crate) fn of(&self, name: &str) -> Option<&[Provider]> {
        self.0
            .get(name)
            .map(Vec::as_slice)
            .filter(|providers| !providers.is_empty())
    }

    /// Every provided name.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// The part of `result` at `index`, if the result has it: a short list or an object
/// without the key has nothing there.
pub(crate) fn extract<'a>(result: &'a Value, index: &ResultIndex) -> Option<&'a Value> {
    match index {
        ResultIndex::Whole => Some(result),
        ResultIndex::Position(position) => result.as_array()?.get(*position),
        ResultIndex::Key(key) => result.as_object()?.get(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extracts_by_position_and_key() {
        let list = json!(["spam", "eggs"]);
        assert_eq!(
            extract(&list, &ResultIndex::Position(1)),
            Some(&json!("eggs"))
        );
        assert_eq!(extract(&list, &ResultIndex::Position(2)), None);
        assert_eq!(extract(&list, &ResultIndex::Key("a".into())), None);
        let object = json!({"a": 1});
        assert_eq!(
            extract(&object, &ResultIndex::Key("a".into())),
            Some(&json!(1))
        );
        assert_eq!(extract(&object, &ResultIndex::Whole), Some(&object));
    }

    #[test]
    fn a_provider_is_registered_once() {
        let mut providers = Providers::default();
        let provider = Provider {
            source: Source::Transient,
            index: ResultIndex::Key("x".into()),
        };
        providers.add("x", provider.clone());
        providers.add("x", provider);
        assert_eq!(providers.of("x").map(<[Provider]>::len), Some(1));
        assert!(providers.of("y").is_none());
    }
}
