//! A key-value store for applications: named [`Region`]s, each over a backend picked by
//! name from a registry (`memory`, `redis`, or one the application registers), with
//! key mangling (SHA-1 by default), proxies around the backend, typed values that are
//! copied in and out, per-key locks with timeouts, and key expiry.
//!
//! It is the showcase application of testbed: its test suite is a port of keystone's
//! KVS tests and runs over every backend (see the crate's README).
//!
//! ```
//! use std::time::Duration;
//! use kvs::Region;
//!
//! let tokens = Region::builder("tokens", "memory")
//!     .expire_time(Duration::from_secs(3600))
//!     .build()?;
//!
//! tokens.set("abc", &vec!["read", "write"])?;
//! let scopes: Vec<String> = tokens.get("abc")?;
//! assert_eq!(scopes, ["read", "write"]);
//!
//! {
//!     let lock = tokens.lock("abc")?;
//!     tokens.delete_locked("abc", &lock)?;
//! }
//! assert!(tokens.get::<Vec<String>>("abc").unwrap_err().is_not_found());
//! # Ok::<(), kvs::KvsError>(())
//! ```
#![warn(missing_docs)]

mod backend;
mod backends;
mod clock;
mod config;
mod error;
mod lock;
mod mangler;
mod options;
mod region;
mod registry;

pub use crate::backend::{Backend, Entry, KeyTtl, Proxy};
pub use crate::backends::{DEFAULT_REDIS_URL, MemoryBackend, RedisBackend};
pub use crate::clock::{Clock, SystemClock};
pub use crate::config::Config;
pub use crate::error::{BoxError, KvsError};
pub use crate::lock::{KeyLock, LOCK_PREFIX};
pub use crate::mangler::KeyMangler;
pub use crate::options::BackendOptions;
pub use crate::region::{Region, RegionBuilder};
pub use crate::registry::{
    BackendFactory, MEMORY, REDIS, create_backend, register_backend, register_builtin_backends,
    registered_backends, unregister_backend,
};
