//! Which key mangler a region uses, and where values land because of it.

use kvs::{KeyMangler, Region};

use crate::TestResult;
use crate::keys::Keys;
use crate::stores::{REDIS_SERVER, ScenarioStore, Store, build, region_name};
use crate::test_backend::{FORCED_MANGLE_PREFIX, KeyManglingDisabled, MANGLE_PREFIX, TestBackends};

fn sha1_hex(key: &str) -> String {
    sha1_smol::Sha1::from(key).digest().to_string()
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_key_mangler_fallthrough_default(store: ScenarioStore, keys: Keys) -> TestResult {
    let region = store.region()?;
    let mangler = region.key_mangler().expect("mangling is on by default");
    assert_eq!(mangler.name(), "sha1");
    assert_eq!(region.storage_key(&keys.foo), sha1_hex(&keys.foo));

    region.set(&keys.foo, &keys.foo_value)?;
    assert!(region.backend().get(&sha1_hex(&keys.foo))?.is_some());
    assert!(region.backend().get(&keys.foo)?.is_none());
    Ok(())
}

#[testbed::test]
fn kvs_key_mangler_configuration_backend(backends: TestBackends, keys: Keys) -> TestResult {
    let region = build(Region::builder(region_name(), &backends.plain))?;
    assert_eq!(
        region.storage_key(&keys.foo),
        format!("{MANGLE_PREFIX}{}", keys.foo)
    );
    Ok(())
}

#[testbed::test]
fn kvs_key_mangler_configuration_forced_backend(backends: TestBackends, keys: Keys) -> TestResult {
    let region =
        build(Region::builder(region_name(), &backends.forced).key_mangler(KeyMangler::sha1()))?;
    assert_eq!(
        region.storage_key(&keys.foo),
        format!("{FORCED_MANGLE_PREFIX}{}", keys.foo)
    );
    Ok(())
}

#[testbed::test]
fn kvs_key_mangler_configured_beats_backend(backends: TestBackends, keys: Keys) -> TestResult {
    let region =
        build(Region::builder(region_name(), &backends.plain).key_mangler(KeyMangler::sha1()))?;
    assert_eq!(region.storage_key(&keys.foo), sha1_hex(&keys.foo));
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_key_mangler_configuration_disabled(
    store: ScenarioStore,
    _disabled: KeyManglingDisabled,
    keys: Keys,
) -> TestResult {
    let region = store.region_with(|builder| builder.key_mangler(KeyMangler::sha1()))?;
    assert_eq!(region.key_mangler(), None);
    assert_eq!(region.storage_key(&keys.foo), keys.foo);

    region.set(&keys.foo, &keys.foo_value)?;
    assert!(region.backend().get(&keys.foo)?.is_some());
    Ok(())
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_key_mangler_set_on_region(store: ScenarioStore, keys: Keys) -> TestResult {
    let region = store.region()?;
    assert_eq!(
        region.key_mangler().map(|m| m.name().to_owned()).as_deref(),
        Some("sha1")
    );
    region.set(&keys.foo, &keys.foo_value)?;

    let identity = KeyMangler::new("identity", |key| key.to_owned());
    region.set_key_mangler(Some(identity.clone()));
    assert_eq!(region.key_mangler(), Some(identity));
    region.set(&keys.bar, &keys.bar_value)?;
    assert!(
        region.backend().get(&keys.bar)?.is_some(),
        "new keys use the new mangler"
    );
    assert!(
        region.backend().get(&sha1_hex(&keys.foo))?.is_some(),
        "keys set before stay where they were"
    );
    assert!(
        region
            .get::<serde_json::Value>(&keys.foo)
            .unwrap_err()
            .is_not_found()
    );
    Ok(())
}
