//! A backend defined by the suite, registered in the application's registry for one
//! test only, and the config override that turns key mangling off for one test.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kvs::{Backend, BackendOptions, Config, KeyMangler, KvsError};
use testbed::{BoxError, Fixture, Scope};

use crate::config_gate;
use crate::keys::unique_hex;

/// An in-memory backend with a key mangler of its own and an option to show that
/// options reach it. It knows no expiry.
pub struct TestBackend {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    test_arg: Option<u64>,
    forced: bool,
}

impl TestBackend {
    /// The value of option `test_arg`, if given.
    pub fn test_arg(&self) -> Option<u64> {
        self.test_arg
    }

    /// Every stored key, lock entries included.
    pub fn keys(&self) -> Vec<String> {
        self.entries().keys().cloned().collect()
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn factory(
        forced: bool,
    ) -> impl Fn(&mut BackendOptions) -> Result<Box<dyn Backend>, KvsError> + Send + Sync {
        move |options| {
            Ok(Box::new(TestBackend {
                entries: Mutex::default(),
                test_arg: options.take("test_arg")?,
                forced,
            }))
        }
    }
}

/// The prefix the plain test backend's mangler adds.
pub const MANGLE_PREFIX: &str = "KVSBackend_";
/// The prefix the forcing test backend's mangler adds.
pub const FORCED_MANGLE_PREFIX: &str = "KVSBackendForcedKeyMangle_";

impl Backend for TestBackend {
    fn name(&self) -> &str {
        "test"
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
        Ok(self.entries().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8], _ttl: Option<Duration>) -> Result<(), KvsError> {
        self.entries().insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, KvsError> {
        Ok(self.entries().remove(key).is_some())
    }

    fn add(&self, key: &str, value: &[u8], _ttl: Option<Duration>) -> Result<bool, KvsError> {
        let mut entries = self.entries();
        if entries.contains_key(key) {
            return Ok(false);
        }
        entries.insert(key.to_owned(), value.to_vec());
        Ok(true)
    }

    fn delete_if_equal(&self, key: &str, expected: &[u8]) -> Result<bool, KvsError> {
        let mut entries = self.entries();
        if entries.get(key).is_some_and(|value| value == expected) {
            entries.remove(key);
            return Ok(true);
        }
        Ok(false)
    }

    fn key_mangler(&self) -> Option<KeyMangler> {
        Some(if self.forced {
            KeyMangler::new("test-backend-forced", |key| {
                format!("{FORCED_MANGLE_PREFIX}{key}")
            })
        } else {
            KeyMangler::new("test-backend", |key| format!("{MANGLE_PREFIX}{key}"))
        })
    }

    fn forces_key_mangler(&self) -> bool {
        self.forced
    }
}

/// The test backends, registered under names of this test's own (tests run in parallel
/// and share the registry) and unregistered when it ends.
#[derive(Debug)]
pub struct TestBackends {
    /// The name of the backend whose mangler yields to a configured one.
    pub plain: String,
    /// The name of the backend whose mangler wins over a configured one.
    pub forced: String,
}

impl Fixture for TestBackends {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let id = unique_hex();
        let backends = TestBackends {
            plain: format!("test-{id}"),
            forced: format!("test-forced-{id}"),
        };
        for (name, forced) in [(&backends.plain, false), (&backends.forced, true)] {
            kvs::register_backend(name.clone(), TestBackend::factory(forced))?;
            let name = name.clone();
            scope.add_cleanup(move |_| {
                if kvs::unregister_backend(&name) {
                    Ok(())
                } else {
                    Err(format!(
                        "backend `{name}` was unregistered before the test ended"
                    ))
                }
            });
        }
        Ok(backends)
    }
}

/// Key mangling turned off in the process-wide config until the test ends.
#[derive(Debug)]
pub struct KeyManglingDisabled;

impl Fixture for KeyManglingDisabled {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let gate = config_gate::overriding();
        let previous = Config::replace_global(Config {
            enable_key_mangler: false,
            ..Config::global()
        });
        scope.add_cleanup(move |_| {
            Config::replace_global(previous);
            drop(gate);
        });
        Ok(KeyManglingDisabled)
    }
}
