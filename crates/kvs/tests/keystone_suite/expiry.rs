//! Keys that expire after the region's expire time, and the no-expiry keys that never do.

use std::time::Duration;

use kvs::{KeyMangler, KeyTtl, KvsError, Region};
use serde_json::Value;

use crate::TestResult;
use crate::keys::Keys;
use crate::stores::{REDIS_SERVER, ScenarioStore, Store, build, region_name};
use crate::test_backend::TestBackends;

const DAY: Duration = Duration::from_secs(86_400);

/// Asserts that `key` expires within a day, and not much sooner: the TTL was set from
/// the region's expire time, not some other value.
fn assert_expires_in_a_day(region: &Region, key: &str) -> TestResult {
    match region.ttl(key)? {
        KeyTtl::Expires(left) if left <= DAY && left > DAY - Duration::from_secs(60) => Ok(()),
        other => Err(format!("`{key}` should expire in a day, found {other:?}").into()),
    }
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_expire_time_and_no_expiry_keys(store: ScenarioStore, keys: Keys) -> TestResult {
    let region =
        store.region_with(|builder| builder.expire_time(DAY).no_expiry_keys([keys.bar.clone()]))?;
    assert_eq!(region.expire_time(), Some(DAY));
    assert_eq!(region.ttl_for(&keys.foo), Some(DAY));
    assert_eq!(region.ttl_for(&keys.bar), None);

    region.set(&keys.foo, &keys.foo_value)?;
    assert_expires_in_a_day(&region, &keys.foo)?;
    region.set(&keys.bar, &keys.bar_value)?;
    assert_eq!(region.ttl(&keys.bar)?, KeyTtl::Persistent);

    region.delete_multi(&[&keys.foo, &keys.bar])?;
    region.set_multi([(&keys.foo, &keys.foo_value)])?;
    assert_expires_in_a_day(&region, &keys.foo)?;
    region.set_multi([(&keys.bar, &keys.bar_value)])?;
    assert_eq!(region.ttl(&keys.bar)?, KeyTtl::Persistent);
    assert_eq!(region.get::<Value>(&keys.bar)?, keys.bar_value);
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_no_expiry_keys_follow_key_mangler(store: ScenarioStore) -> TestResult {
    let region =
        store.region_with(|builder| builder.expire_time(DAY).no_expiry_keys(["test_key"]))?;
    assert_eq!(
        region.key_mangler().map(|m| m.name().to_owned()).as_deref(),
        Some("sha1")
    );

    // Popped from the end: a custom mangler, then none at all.
    let mut manglers = vec![
        None,
        Some(KeyMangler::new("mangled", |key| {
            format!("_mangled_key_{key}")
        })),
    ];
    loop {
        region.set("test_key", "never expires")?;
        region.set("other_key", "expires")?;
        let stored_as = region.storage_key("test_key");
        assert!(
            region.backend().get(&stored_as)?.is_some(),
            "stored under `{stored_as}`"
        );
        assert_eq!(
            region.ttl("test_key")?,
            KeyTtl::Persistent,
            "mangled as `{stored_as}`"
        );
        assert_expires_in_a_day(&region, "other_key")?;
        let Some(next) = manglers.pop() else {
            break;
        };
        region.set_key_mangler(next);
    }
    // The last round ran with no mangler: the raw key is the storage key.
    assert_eq!(region.storage_key("test_key"), "test_key");
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_expired_keys_are_not_found(store: ScenarioStore, keys: Keys) -> TestResult {
    let region = store.region_with(|builder| builder.expire_time(Duration::from_millis(50)))?;
    region.set(&keys.foo, &keys.foo_value)?;
    std::thread::sleep(Duration::from_millis(150));
    assert!(region.get::<Value>(&keys.foo).unwrap_err().is_not_found());
    assert_eq!(region.ttl(&keys.foo)?, KeyTtl::Missing);
    Ok(())
}

#[testbed::test]
fn kvs_expiry_needs_a_backend_with_expiry(backends: TestBackends) {
    let error =
        build(Region::builder(region_name(), &backends.plain).expire_time(DAY)).unwrap_err();
    assert!(
        matches!(&error, KvsError::ExpiryUnsupported { backend, .. } if backend == "test"),
        "{error:?}"
    );
}
