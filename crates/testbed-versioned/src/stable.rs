//! Stable serialization for assertions (oslo's stable-JSON fixture): the same value
//! always gives the same text, whatever order its maps were filled in.

use serde::Serialize;
use serde_json::Value;

/// `value` as pretty JSON with every object's keys sorted, so a test can compare it with
/// a stored text (or snapshot it) without depending on a `HashMap`'s order.
///
/// ```
/// use std::collections::HashMap;
///
/// let scores: HashMap<&str, u32> = [("b", 2), ("a", 1), ("c", 3)].into_iter().collect();
/// assert_eq!(testbed_versioned::stable_json(&scores), "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}");
/// ```
///
/// # Panics
///
/// When `value` cannot be JSON (a map with keys that are not strings): a test's bug.
pub fn stable_json<T: Serialize + ?Sized>(value: &T) -> String {
    let value = serde_json::to_value(value).expect("the value serializes to JSON");
    serde_json::to_string_pretty(&sorted(value)).expect("a JSON value prints")
}

/// `value` with every object rebuilt in key order (serde_json keeps insertion order
/// when another crate turns on its `preserve_order` feature).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
