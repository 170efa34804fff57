//! Fresh keys and values for each test, so that no two tests (or two runs against one
//! Redis) ever share one.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use testbed::{BoxError, Fixture, Scope};

/// 32 hex digits, different on every call, in every process.
pub fn unique_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Each `RandomState` carries fresh random keys: enough randomness without a crate.
    let random = RandomState::new().hash_one((count, std::process::id()));
    format!("{random:016x}{:08x}{count:08x}", std::process::id())
}

/// Two keys and their values: a plain string and a structure, as the values callers
/// store are.
#[derive(Debug)]
pub struct Keys {
    /// `foo_<hex>`.
    pub foo: String,
    /// A string.
    pub foo_value: Value,
    /// `bar_<hex>`.
    pub bar: String,
    /// A structure.
    pub bar_value: Value,
}

impl Fixture for Keys {
    fn setup(_scope: &Scope) -> Result<Self, BoxError> {
        Ok(Keys {
            foo: format!("foo_{}", unique_hex()),
            foo_value: json!(unique_hex()),
            bar: format!("bar_{}", unique_hex()),
            bar_value: json!({ "complex_data_structure": unique_hex() }),
        })
    }
}
