//! The network backend: Redis, through one synchronous connection per backend,
//! re-opened after it breaks.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Cmd, Connection, FromRedisValue};

use crate::backend::{Backend, Entry, KeyTtl};
use crate::error::KvsError;
use crate::options::BackendOptions;

/// The URL used when the `url` option is absent.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Removes `KEYS[1]` only while it still holds `ARGV[1]`, in one step on the server.
const DELETE_IF_EQUAL: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) else return 0 end";

/// Values kept in a Redis server. Registered as `redis`. Supports expiry.
///
/// Options: `url` (default [`DEFAULT_REDIS_URL`]), `prefix` put before every key so
/// that several applications (or tests) share a server without meeting (default none),
/// and `timeout_ms` for connecting and for each command (default 2000).
///
/// ```no_run
/// use kvs::{Backend, RedisBackend};
///
/// let backend = RedisBackend::connect("redis://127.0.0.1:6379", "myapp:").unwrap();
/// backend.set("k", b"v", None).unwrap(); // stored as `myapp:k`
/// ```
pub struct RedisBackend {
    client: Client,
    connection: Mutex<Option<Connection>>,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the address: the URL may hold a password.
        f.debug_struct("RedisBackend")
            .field("address", &self.address())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisBackend {
    /// Connects to the server at `url`, storing every key under `prefix`.
    pub fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, KvsError> {
        let client = Client::open(url).map_err(|error| KvsError::InvalidOption {
            backend: crate::registry::REDIS.to_owned(),
            option: "url".to_owned(),
            reason: error.to_string(),
        })?;
        Self::with_client(client, prefix.into(), DEFAULT_TIMEOUT)
    }

    /// The factory registered as `redis`.
    pub fn from_options(options: &mut BackendOptions) -> Result<Box<dyn Backend>, KvsError> {
        let url = options
            .take_str("url")
            .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
        let prefix = options.take_str("prefix").unwrap_or_default();
        let timeout = options
            .take::<u64>("timeout_ms")?
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        if timeout.is_zero() {
            return Err(options.invalid("timeout_ms", "must be at least 1"));
        }
        // The parse error never quotes the URL, which may hold a password.
        let client = Client::open(url.as_str())
            .map_err(|error| options.invalid("url", error.to_string()))?;
        Ok(Box::new(Self::with_client(client, prefix, timeout)?))
    }

    fn with_client(client: Client, prefix: String, timeout: Duration) -> Result<Self, KvsError> {
        let backend = RedisBackend {
            client,
            connection: Mutex::new(None),
            prefix,
            timeout,
        };
        // Connect now, so that a region over an unreachable server fails to build.
        backend.query::<()>(&redis::cmd("PING"))?;
        Ok(backend)
    }

    /// The prefix put before every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The server's address, `host:port`.
    pub fn address(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn connection(&self) -> MutexGuard<'_, Option<Connection>> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self) -> redis::RedisResult<Connection> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    /// Runs `run` on the connection, opening it first if needed and dropping it when
    /// it broke, so that the next call reconnects.
    fn with_connection<T>(
        &self,
        run: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, KvsError> {
        let mut slot = self.connection();
        let result = match &mut *slot {
            Some(connection) => run(connection),
            None => self.open().and_then(|mut connection| {
                let result = run(&mut connection);
                *slot = Some(connection);
                result
            }),
        };
        result.map_err(|error| {
            if error.is_io_error()
                || error.is_connection_dropped()
                || error.is_unrecoverable_error()
            {
                *slot = None;
            }
            KvsError::backend(crate::registry::REDIS, error)
        })
    }

    fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, KvsError> {
        self.with_connection(|connection| command.query(connection))
    }
}

/// Adds `PX <ms>` for a TTL, never less than a millisecond: Redis refuses `PX 0`.
fn with_ttl(command: &mut Cmd, ttl: Option<Duration>) {
    if let Some(ttl) = ttl {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        command.arg("PX").arg(millis);
    }
}

impl Backend for RedisBackend {
    fn name(&self) -> &str {
        crate::registry::REDIS
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
        self.query(redis::cmd("GET").arg(self.key(key)))
    }

    fn get_multi(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvsError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(self.key(key));
        }
        self.query(&command)
    }

    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvsError> {
        let mut command = redis::cmd("SET");
        command.arg(self.key(key)).arg(value);
        with_ttl(&mut command, ttl);
        self.query(&command)
    }

    fn set_multi(&self, entries: &[Entry]) -> Result<(), KvsError> {
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        for entry in entries {
            let mut command = redis::cmd("SET");
            command.arg(self.key(&entry.key)).arg(&entry.value[..]);
            with_ttl(&mut command, entry.ttl);
            pipeline.add_command(command).ignore();
        }
        self.with_connection(|connection| pipeline.query(connection))
    }

    fn delete(&self, key: &str) -> Result<bool, KvsError> {
        let removed: u64 = self.query(redis::cmd("DEL").arg(self.key(key)))?;
        Ok(removed > 0)
    }

    fn delete_multi(&self, keys: &[String]) -> Result<(), KvsError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut command = redis::cmd("DEL");
        for key in keys {
            command.arg(self.key(key));
        }
        self.query::<u64>(&command).map(drop)
    }

    fn add(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, KvsError> {
        let mut command = redis::cmd("SET");
        command.arg(self.key(key)).arg(value).arg("NX");
        with_ttl(&mut command, ttl);
        let reply: Option<String> = self.query(&command)?;
        Ok(reply.is_some())
    }

    fn delete_if_equal(&self, key: &str, expected: &[u8]) -> Result<bool, KvsError> {
        let removed: u64 = self.query(
            redis::cmd("EVAL")
                .arg(DELETE_IF_EQUAL)
                .arg(1)
                .arg(self.key(key))
                .arg(expected),
        )?;
        Ok(removed > 0)
    }

    fn ttl(&self, key: &str) -> Result<KeyTtl, KvsError> {
        let millis: i64 = self.query(redis::cmd("PTTL").arg(self.key(key)))?;
        Ok(match millis {
            -2 => KeyTtl::Missing,
            millis if millis < 0 => KeyTtl::Persistent,
            millis => KeyTtl::Expires(Duration::from_millis(millis.unsigned_abs())),
        })
    }

    fn supports_expiry(&self) -> bool {
        true
    }
}
