//! The process-wide registry of backends by name, which regions pick their backing
//! store from. `memory` and `redis` are registered from the start; an application (or
//! a test) registers its own.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock, RwLockWriteGuard};

use crate::backend::Backend;
use crate::backends::{MemoryBackend, RedisBackend};
use crate::error::KvsError;
use crate::options::BackendOptions;

/// Builds a backend from its options; the options it does not take are an error.
pub type BackendFactory =
    Arc<dyn Fn(&mut BackendOptions) -> Result<Box<dyn Backend>, KvsError> + Send + Sync>;

/// The name the in-memory backend is registered under.
pub const MEMORY: &str = "memory";
/// The name the Redis backend is registered under.
pub const REDIS: &str = "redis";

static REGISTRY: LazyLock<RwLock<BTreeMap<String, BackendFactory>>> = LazyLock::new(|| {
    let mut factories = BTreeMap::new();
    insert_builtins(&mut factories);
    RwLock::new(factories)
});

fn insert_builtins(factories: &mut BTreeMap<String, BackendFactory>) {
    let memory: BackendFactory = Arc::new(MemoryBackend::from_options);
    let redis: BackendFactory = Arc::new(RedisBackend::from_options);
    factories.entry(MEMORY.to_owned()).or_insert(memory);
    factories.entry(REDIS.to_owned()).or_insert(redis);
}

fn write() -> RwLockWriteGuard<'static, BTreeMap<String, BackendFactory>> {
    REGISTRY
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers `factory` under `name`. A taken name is [`KvsError::AlreadyRegistered`]:
/// replacing a backend behind the back of regions being built is never what was meant.
///
/// ```
/// use kvs::{MemoryBackend, register_backend, unregister_backend};
///
/// register_backend("scratch", |_options| Ok(Box::new(MemoryBackend::new()))).unwrap();
/// assert!(register_backend("scratch", |_options| Ok(Box::new(MemoryBackend::new()))).is_err());
/// assert!(unregister_backend("scratch"));
/// ```
pub fn register_backend<F>(name: impl Into<String>, factory: F) -> Result<(), KvsError>
where
    F: Fn(&mut BackendOptions) -> Result<Box<dyn Backend>, KvsError> + Send + Sync + 'static,
{
    let name = name.into();
    let mut factories = write();
    if factories.contains_key(&name) {
        return Err(KvsError::AlreadyRegistered { name });
    }
    factories.insert(name, Arc::new(factory));
    Ok(())
}

/// Removes the backend registered under `name`; returns whether there was one.
/// Regions already built keep their backend.
pub fn unregister_backend(name: &str) -> bool {
    write().remove(name).is_some()
}

/// Registers the built-in backends (`memory`, `redis`) that are missing, leaving every
/// registered name alone. Calling it again is harmless.
pub fn register_builtin_backends() {
    insert_builtins(&mut write());
}

/// The registered names, sorted.
pub fn registered_backends() -> Vec<String> {
    REGISTRY
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .keys()
        .cloned()
        .collect()
}

/// Builds the backend registered under `name` from `options`.
///
/// ```
/// use kvs::{BackendOptions, create_backend};
///
/// let backend = create_backend("memory", BackendOptions::new()).unwrap();
/// assert_eq!(backend.name(), "memory");
/// let error = create_backend("nope", BackendOptions::new()).err().unwrap();
/// assert!(error.to_string().contains("`memory`"), "{error}");
/// ```
pub fn create_backend(name: &str, options: BackendOptions) -> Result<Box<dyn Backend>, KvsError> {
    let factory = REGISTRY
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(name)
        .cloned();
    // The lock is released before the factory runs: it may connect to a server.
    let Some(factory) = factory else {
        return Err(KvsError::UnknownBackend {
            name: name.to_owned(),
            registered: registered_backends(),
        });
    };
    let mut options = options.for_backend(name);
    let backend = factory(&mut options)?;
    options.ensure_all_taken()?;
    Ok(backend)
}
