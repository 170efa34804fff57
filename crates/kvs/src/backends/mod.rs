//! The built-in backends: memory (always there) and Redis (the network backend).

mod memory;
mod redis;

pub use self::memory::MemoryBackend;
pub use self::redis::{DEFAULT_REDIS_URL, RedisBackend};
