//! The seed's helpers: `_get_storage`, `temporary_flow_detail`, the `RuntimeError('Woot!')`
//! failure, and small builders for expected values.

use super::Db;
use flowstore::{ArgsMapping, Failure, FlowDetail, Storage, StorageError};
use serde_json::{Map, Value};

/// What every test body returns.
pub type TestResult = Result<(), StorageError>;

/// The error the seed raises (`RuntimeError('Woot!')`).
#[derive(Debug, thiserror::Error)]
#[error("Woot!")]
pub struct RuntimeError;

/// A failure captured from a fresh [`RuntimeError`].
pub fn woot() -> Failure {
    Failure::from_error(RuntimeError)
}

/// A new flow, saved to `db`, as the seed's `p_utils.temporary_flow_detail`.
pub fn temporary_flow_detail(db: &Db) -> Result<FlowDetail, StorageError> {
    let flow = FlowDetail::new(format!("temporary-{}", uuid::Uuid::new_v4()));
    db.save_flow(&flow)?;
    Ok(flow)
}

/// A storage writing through to `db`, for a new temporary flow.
pub fn get_storage(db: &Db) -> Result<Storage, StorageError> {
    get_storage_for(db, temporary_flow_detail(db)?)
}

/// A storage writing through to `db`, for `flow`.
pub fn get_storage_for(db: &Db, flow: FlowDetail) -> Result<Storage, StorageError> {
    Storage::with_backend(flow, db.shared())
}

/// A second storage for the same flow, read back from `db`, as a resumed engine gets it.
pub fn reload(db: &Db, storage: &Storage) -> Result<Storage, StorageError> {
    Storage::load(db.shared(), &storage.flow_uuid())
}

/// The object of a `json!({...})` literal.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// An argument mapping from `(argument, provided name)` pairs.
pub fn args<const N: usize>(pairs: [(&str, &str); N]) -> ArgsMapping {
    pairs
        .into_iter()
        .map(|(argument, name)| (argument.to_owned(), name.to_owned()))
        .collect()
}

/// Whether `text` parses as a uuid (the seed's `uuidutils.is_uuid_like`).
pub fn is_uuid_like(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}
