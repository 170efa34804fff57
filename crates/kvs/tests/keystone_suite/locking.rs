//! Per-key locks: their entries in the backend, timeouts, mismatched keys and the limit
//! on attempts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvs::{Clock, KvsError, LOCK_PREFIX, Region};

use crate::TestResult;
use crate::keys::{Keys, unique_hex};
use crate::stores::{REDIS_SERVER, ScenarioStore, Store, build, region_name};
use crate::test_backend::{KeyManglingDisabled, TestBackend, TestBackends};

/// Whether the backend holds `key`, read past the region (no mangling).
fn stored(region: &Region, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
    region.backend().get(key)
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_locking_context_handler(
    store: ScenarioStore,
    _disabled: KeyManglingDisabled,
    keys: Keys,
) -> TestResult {
    let region = store.region()?;
    locking_context_handler(&region, &keys)
}

/// The original ran this test on its test backend only; it runs there too.
#[testbed::test]
fn kvs_locking_context_handler_on_test_backend(
    backends: TestBackends,
    _disabled: KeyManglingDisabled,
    keys: Keys,
) -> TestResult {
    let region = build(Region::builder(region_name(), &backends.plain))?;
    locking_context_handler(&region, &keys)?;
    let backend = region
        .backend()
        .downcast_ref::<TestBackend>()
        .expect("test backend");
    assert!(backend.keys().is_empty(), "{:?}", backend.keys());
    Ok(())
}

fn locking_context_handler(region: &Region, keys: &Keys) -> TestResult {
    let lock_key = format!("{LOCK_PREFIX}{}", keys.foo);
    assert_eq!(stored(region, &lock_key)?, None);
    {
        let lock = region.lock(&keys.foo)?;
        assert_eq!(lock.storage_key(), Some(lock_key.as_str()));
        assert_eq!(stored(region, &lock_key)?.as_deref(), lock.token());
    }
    assert_eq!(
        stored(region, &lock_key)?,
        None,
        "dropping the lock releases it"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_locking_context_handler_locking_disabled(
    store: ScenarioStore,
    _disabled: KeyManglingDisabled,
    keys: Keys,
) -> TestResult {
    let region = store.region_with(|builder| builder.locking(false))?;
    let lock_key = format!("{LOCK_PREFIX}{}", keys.foo);
    {
        let lock = region.lock(&keys.foo)?;
        assert_eq!(lock.storage_key(), None);
        assert_eq!(stored(&region, &lock_key)?, None);
        region.with_lock(&keys.foo, Some(&lock), || ())?;
        // A second holder is not kept out: nothing was locked.
        let _second = region.lock(&keys.foo)?;
    }
    assert_eq!(stored(&region, &lock_key)?, None);
    Ok(())
}

/// A clock that moves only when a test moves it.
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_with_lock_action_context_manager_timeout(store: ScenarioStore) -> TestResult {
    let lock_timeout = Duration::from_secs(5);
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let region_clock = clock.clone();
    let region =
        store.region_with(|builder| builder.lock_timeout(lock_timeout).clock(region_clock))?;

    // Held for `offset`: whether an action under the lock still runs.
    let act_after = |offset: Duration| -> Result<bool, KvsError> {
        let key = unique_hex();
        let lock = region.lock(&key)?;
        clock.advance(offset);
        let mut ran = false;
        region.with_lock(&key, Some(&lock), || ran = true)?;
        Ok(ran)
    };

    assert!(act_after(Duration::from_secs(2))?);
    // A second short of the timeout already counts as timed out: the backend's entry
    // expires on the backend's clock, so the region stops early.
    for offset in [
        Duration::from_millis(4500),
        lock_timeout,
        Duration::from_secs(100),
    ] {
        let error = act_after(offset).unwrap_err();
        assert!(
            matches!(error, KvsError::LockTimeout { held, timeout, .. } if held == offset && timeout == lock_timeout),
            "{error:?}"
        );
    }
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_with_lock_action_mismatched_keys(store: ScenarioStore, keys: Keys) -> TestResult {
    let region = store.region()?;
    let lock = region.lock(&keys.foo)?;
    let mut ran = false;
    let error = region
        .with_lock(&keys.bar, Some(&lock), || ran = true)
        .unwrap_err();
    assert!(
        matches!(&error, KvsError::LockKeyMismatch { lock_key, target_key }
            if lock_key == &keys.foo && target_key == &keys.bar),
        "{error:?}"
    );
    assert!(!ran, "the action must not run under the wrong lock");
    let error = region.set_locked(&keys.bar, &1, &lock).unwrap_err();
    assert!(
        matches!(error, KvsError::LockKeyMismatch { .. }),
        "{error:?}"
    );
    assert!(region.get::<i32>(&keys.bar).unwrap_err().is_not_found());
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_with_lock_action_context_manager(
    store: ScenarioStore,
    _disabled: KeyManglingDisabled,
    keys: Keys,
) -> TestResult {
    let region = store.region()?;
    let lock_key = format!("{LOCK_PREFIX}{}", keys.foo);
    assert_eq!(stored(&region, &lock_key)?, None);
    {
        let lock = region.lock(&keys.foo)?;
        let held = region.with_lock(&keys.foo, Some(&lock), || stored(&region, &lock_key))??;
        assert_eq!(held.as_deref(), lock.token());
        region.set_locked(&keys.foo, &keys.foo_value, &lock)?;
    }
    assert_eq!(stored(&region, &lock_key)?, None);
    assert_eq!(region.get::<serde_json::Value>(&keys.foo)?, keys.foo_value);
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_with_lock_action_context_manager_no_lock(
    store: ScenarioStore,
    _disabled: KeyManglingDisabled,
    keys: Keys,
) -> TestResult {
    let region = store.region()?;
    let lock_key = format!("{LOCK_PREFIX}{}", keys.foo);
    let during = region.with_lock(&keys.foo, None, || stored(&region, &lock_key))??;
    assert_eq!(during, None);
    assert_eq!(stored(&region, &lock_key)?, None);
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_lock_max_lock_attempts(store: ScenarioStore) -> TestResult {
    let region = store.region_with(|builder| builder.max_lock_attempts(1))?;
    assert_eq!(region.max_lock_attempts(), 1);
    let key = unique_hex();
    {
        let lock = region.lock(&key)?;
        region.set_locked(&key, "testing", &lock)?;
    }

    let first = region.lock(&key)?;
    region.set_locked(&key, "lock", &first)?;
    let error = region.lock(&key).unwrap_err();
    assert!(
        matches!(&error, KvsError::LockAttemptsExhausted { key: locked, attempts: 1 } if locked == &key),
        "{error:?}"
    );
    drop(first);
    let again = region.lock(&key)?;
    region.set_locked(&key, "after release", &again)?;
    assert_eq!(region.get::<String>(&key)?, "after release");
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_abandoned_lock_expires(store: ScenarioStore) -> TestResult {
    let region = store.region_with(|builder| {
        builder
            .lock_timeout(Duration::from_millis(200))
            .max_lock_attempts(12)
    })?;
    let key = unique_hex();
    // A holder that dies without releasing: its entry stays until the lock timeout.
    std::mem::forget(region.lock(&key)?);
    let start = Instant::now();
    let lock = region.lock(&key)?;
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    lock.release()?;
    Ok(())
}
