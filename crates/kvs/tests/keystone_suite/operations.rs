//! Get, set and delete, one key and several, with not-found semantics and values that
//! are copies.

use serde_json::Value;

use crate::TestResult;
use crate::keys::Keys;
use crate::stores::{REDIS_SERVER, ScenarioStore, Store};

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_basic_get_set_delete(store: ScenarioStore, keys: Keys) -> TestResult {
    let region = store.region()?;
    assert!(region.get::<Value>(&keys.bar).unwrap_err().is_not_found());

    region.set(&keys.bar, &keys.bar_value)?;
    let mut returned: Value = region.get(&keys.bar)?;
    assert_eq!(returned, keys.bar_value);

    // The value handed out is a copy: changing it changes nothing stored.
    returned["complex_data_structure"] = Value::from("changed");
    assert_eq!(region.get::<Value>(&keys.bar)?, keys.bar_value);

    region.delete(&keys.bar)?;
    assert!(region.get::<Value>(&keys.bar).unwrap_err().is_not_found());
    let second_delete = region.delete(&keys.bar).unwrap_err();
    assert!(second_delete.is_not_found(), "{second_delete:?}");
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_multi_get_set_delete(store: ScenarioStore, keys: Keys) -> TestResult {
    let region = store.region()?;
    let both = [keys.foo.as_str(), keys.bar.as_str()];
    region.set_multi([(&keys.foo, &keys.foo_value), (&keys.bar, &keys.bar_value)])?;
    assert_eq!(
        region.get_multi::<Value>(&both)?,
        [keys.foo_value.clone(), keys.bar_value.clone()]
    );

    region.delete_multi(&both)?;
    let error = region.get_multi::<Value>(&both).unwrap_err();
    assert!(
        matches!(&error, kvs::KvsError::NotFound { keys: missing, .. } if missing == &both),
        "{error:?}"
    );
    assert!(region.get::<Value>(&keys.foo).unwrap_err().is_not_found());
    assert!(region.get::<Value>(&keys.bar).unwrap_err().is_not_found());

    // One missing key is enough to fail the whole get, and the error names only it.
    region.set(&keys.foo, &keys.foo_value)?;
    let error = region.get_multi::<Value>(&both).unwrap_err();
    assert!(
        matches!(&error, kvs::KvsError::NotFound { keys: missing, .. } if missing == std::slice::from_ref(&keys.bar)),
        "{error:?}"
    );
    Ok(())
}
