//! Building regions: backends by name and their options, proxies, and the registry.

use std::sync::{Arc, Mutex};

use kvs::{Backend, KvsError, Proxy, RedisBackend, Region};

use crate::TestResult;
use crate::stores::{REDIS_SERVER, Redis, ScenarioStore, Store, build, region_name};
use crate::test_backend::{TestBackend, TestBackends};

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_basic_configuration(store: ScenarioStore, backends: TestBackends) -> TestResult {
    let region = store.region()?;
    assert!(region.name().starts_with("region-"), "{}", region.name());
    assert!(region.backend().proxied().is_none());

    let name = region_name();
    let region = build(Region::builder(&name, &backends.plain).option("test_arg", 100))?;
    assert_eq!(region.name(), name);
    let backend = region
        .backend()
        .downcast_ref::<TestBackend>()
        .expect("the region runs over the backend registered under its name");
    assert_eq!(backend.test_arg(), Some(100));
    Ok(())
}

/// A proxy that notes each write it passes on, in a log shared by a region's proxies.
struct RecordingProxy {
    name: &'static str,
    inner: Box<dyn Backend>,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl Proxy for RecordingProxy {
    fn name(&self) -> &str {
        self.name
    }

    fn inner(&self) -> &dyn Backend {
        &*self.inner
    }

    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<std::time::Duration>,
    ) -> Result<(), KvsError> {
        self.log.lock().unwrap().push(self.name);
        self.inner.set(key, value, ttl)
    }
}

#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]
fn kvs_proxy_configuration(store: ScenarioStore) -> TestResult {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (first_log, second_log) = (log.clone(), log.clone());
    let region = store.region_with(|builder| {
        builder
            .proxy(move |inner| {
                Box::new(RecordingProxy {
                    name: "first",
                    inner,
                    log: first_log,
                })
            })
            .proxy(move |inner| {
                Box::new(RecordingProxy {
                    name: "second",
                    inner,
                    log: second_log,
                })
            })
    })?;
    let backend = region.backend();
    let innermost = backend
        .proxied()
        .and_then(Backend::proxied)
        .expect("two proxies");
    assert_eq!(backend.chain(), ["first", "second", innermost.name()]);
    assert!(innermost.proxied().is_none());
    assert!(
        innermost.downcast_ref::<kvs::MemoryBackend>().is_some()
            || innermost.downcast_ref::<RedisBackend>().is_some()
    );

    region.set("key", "value")?;
    assert_eq!(*log.lock().unwrap(), ["first", "second"]);
    assert_eq!(region.get::<String>("key")?, "value");
    Ok(())
}

#[testbed::test]
fn kvs_backend_registration_does_not_reregister_backends() -> TestResult {
    // Other tests register and unregister backends of their own meanwhile: look at the
    // built-in names only.
    let builtins = || -> Vec<String> {
        kvs::registered_backends()
            .into_iter()
            .filter(|name| name == kvs::MEMORY || name == kvs::REDIS)
            .collect()
    };
    assert_eq!(builtins(), [kvs::MEMORY, kvs::REDIS]);
    kvs::register_builtin_backends();
    kvs::register_builtin_backends();
    assert_eq!(builtins(), [kvs::MEMORY, kvs::REDIS]);

    let error = kvs::register_backend(kvs::MEMORY, kvs::MemoryBackend::from_options)
        .expect_err("a taken name cannot be registered again");
    assert!(
        matches!(error, KvsError::AlreadyRegistered { .. }),
        "{error:?}"
    );
    build(Region::builder(region_name(), kvs::MEMORY))?;
    Ok(())
}

#[testbed::test]
fn kvs_unknown_backend_lists_registered() {
    let error = build(Region::builder(region_name(), "no-such-backend")).unwrap_err();
    let KvsError::UnknownBackend { name, registered } = &error else {
        panic!("expected an unknown backend, got {error:?}");
    };
    assert_eq!(name, "no-such-backend");
    assert!(registered.iter().any(|name| name == kvs::MEMORY));
    assert!(error.to_string().contains("`memory`"), "{error}");
}

#[testbed::test]
fn kvs_unknown_backend_option_is_rejected() {
    let error =
        build(Region::builder(region_name(), kvs::MEMORY).option("some_other_arg", 1)).unwrap_err();
    assert!(
        matches!(&error, KvsError::UnknownOption { backend, option, .. }
            if backend == kvs::MEMORY && option == "some_other_arg"),
        "{error:?}"
    );
}

#[testbed::test]
fn kvs_redis_invalid_url_is_rejected() {
    let error = build(
        Region::builder(region_name(), kvs::REDIS).option("url", "FakeBackend://user:secret@host"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, KvsError::InvalidOption { backend, option, .. }
            if backend == kvs::REDIS && option == "url"),
        "{error:?}"
    );
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[testbed::test(resources(REDIS_SERVER))]
fn kvs_redis_backend_configuration(server: Redis) -> TestResult {
    let region = server.region()?;
    let backend = region
        .backend()
        .downcast_ref::<RedisBackend>()
        .expect("a region over `redis` runs on the Redis backend");
    assert_eq!(backend.prefix(), server.prefix());

    region.set("key", &1)?;
    let stored: Option<Vec<u8>> = server.query(redis::cmd("GET").arg(format!(
        "{}{}",
        server.prefix(),
        region.storage_key("key")
    )))?;
    assert_eq!(stored.as_deref(), Some(&b"1"[..]));
    Ok(())
}
