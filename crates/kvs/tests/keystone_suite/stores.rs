//! The backends the suite runs over, as fixtures: memory (always there) and Redis (a
//! skip when no server answers, a failure under `TESTBED_REQUIRE`), each giving regions
//! that no other test sees.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kvs::{Region, RegionBuilder};
use testbed::resources::Resource;
use testbed::scenarios::Scenario;
use testbed::{BoxError, Fixture, Scope, Unavailable};

use crate::config_gate;
use crate::keys::unique_hex;

/// The variable naming the Redis server the suite uses.
pub const REDIS_URL_ENV: &str = "TESTBED_REDIS_URL";

/// A backend the suite's tests run over.
pub trait Store {
    /// Starts a region over this store, named so that no other test meets it.
    fn builder(&self) -> RegionBuilder;

    /// A region over this store with the settings `configure` adds.
    fn region_with(
        &self,
        configure: impl FnOnce(RegionBuilder) -> RegionBuilder,
    ) -> Result<Region, kvs::KvsError> {
        build(configure(self.builder()))
    }

    /// A region over this store with default settings.
    fn region(&self) -> Result<Region, kvs::KvsError> {
        self.region_with(|builder| builder)
    }
}

/// Builds a region: the one place the suite calls `build`, because building reads the
/// process-wide config (see [`config_gate`]).
pub fn build(builder: RegionBuilder) -> Result<Region, kvs::KvsError> {
    config_gate::reading(|| builder.build())
}

/// A region name no other test uses.
pub fn region_name() -> String {
    format!("region-{}", unique_hex())
}

/// The in-process backend.
#[derive(Debug)]
pub struct Memory;

impl Fixture for Memory {
    fn setup(_scope: &Scope) -> Result<Self, BoxError> {
        Ok(Memory)
    }
}

impl Store for Memory {
    fn builder(&self) -> RegionBuilder {
        Region::builder(region_name(), kvs::MEMORY)
    }
}

/// The Redis server of this run, probed once per process: when it is missing, every
/// Redis test is skipped with the same reason without trying again.
pub struct RedisServer {
    client: redis::Client,
    url: String,
    address: String,
}

/// The shared [`RedisServer`].
pub static REDIS_SERVER: Resource<RedisServer> = Resource::new("redis", |_| RedisServer::probe());

/// How long the fixture waits for Redis to connect or answer: a server that stops
/// answering (frozen, its host gone) fails the test instead of hanging it.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisServer {
    fn probe() -> Result<Self, BoxError> {
        let url = std::env::var(REDIS_URL_ENV).unwrap_or_else(|_| kvs::DEFAULT_REDIS_URL.into());
        Self::at(&url)
    }

    /// The server at `url`, probed now: unavailable (a skip) if it does not answer.
    pub fn at(url: &str) -> Result<Self, BoxError> {
        let url = url.to_owned();
        let client = redis::Client::open(url.as_str())
            .map_err(|error| format!("`{REDIS_URL_ENV}` is not a Redis URL: {error}"))?;
        // Only host and port from here on: the URL may hold a password.
        let address = client.get_connection_info().addr().to_string();
        let server = RedisServer {
            client,
            url,
            address,
        };
        server.connect().map_err(|error| {
            Unavailable::new(
                "redis",
                format!(
                    "no Redis server at `{}`: {error} (hint: start Redis or set {REDIS_URL_ENV})",
                    server.address
                ),
            )
        })?;
        Ok(server)
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let mut connection = self.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
        connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
        redis::cmd("PING").query::<()>(&mut connection)?;
        Ok(connection)
    }

    /// The server's address, `host:port` (never the URL, which may hold a password).
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// The Redis server, with a key prefix of this test's own; every key under it is deleted
/// when the test ends. The server is shared with other tests and processes, so nothing
/// outside the prefix is touched (no `FLUSHDB`).
#[derive(Clone)]
pub struct Redis {
    url: String,
    prefix: String,
    connection: Arc<Mutex<redis::Connection>>,
}

impl Redis {
    /// The prefix this test's keys live under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs a command on the fixture's own connection, outside any region: how a test
    /// looks at what the backend really stored.
    pub fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> redis::RedisResult<T> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        command.query(&mut *connection)
    }
}

impl Fixture for Redis {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Redis::on(&*REDIS_SERVER.get(scope)?, scope)
    }
}

impl Redis {
    /// The fixture on `server`, for `scope`'s test.
    pub fn on(server: &RedisServer, scope: &Scope) -> Result<Self, BoxError> {
        let prefix = format!("kvs-test:{}:", unique_hex());
        scope.attach(
            "redis",
            format!("server `{}`, keys under `{prefix}`", server.address),
        );
        let store = Redis {
            url: server.url.clone(),
            prefix,
            connection: Arc::new(Mutex::new(server.connect().map_err(|error| {
                format!("cannot connect to Redis at `{}`: {error}", server.address)
            })?)),
        };
        let cleanup = store.clone();
        let details = scope.details();
        let address = server.address.clone();
        scope.add_cleanup(move |outcome: testbed::Outcome| -> Result<(), BoxError> {
            let keys = cleanup.keys().map_err(|error| {
                let cause = if error.is_timeout() {
                    format!("no answer within {} s", REDIS_TIMEOUT.as_secs())
                } else {
                    error.to_string()
                };
                format!("cannot list the test's keys on Redis at `{address}`: {cause}")
            })?;
            if outcome.is_failure() && !keys.is_empty() {
                details.attach("redis keys left by the test", keys.join("\n"));
            }
            if !keys.is_empty() {
                let mut command = redis::cmd("DEL");
                for key in &keys {
                    command.arg(key);
                }
                cleanup.query::<u64>(&command)?;
            }
            Ok(())
        });
        Ok(store)
    }
}

impl Redis {
    /// Every key under this test's prefix.
    pub fn keys(&self) -> redis::RedisResult<Vec<String>> {
        let pattern = format!("{}*", self.prefix);
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = self.query(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000),
            )?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

impl Store for Redis {
    fn builder(&self) -> RegionBuilder {
        Region::builder(region_name(), kvs::REDIS)
            .option("url", &self.url)
            .option("prefix", &self.prefix)
    }
}

/// The backend of the test's scenario: `#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]`
/// runs a test taking this once on each.
pub enum ScenarioStore {
    /// The `memory` scenario.
    Memory(Memory),
    /// The `redis` scenario.
    Redis(Redis),
}

impl Fixture for ScenarioStore {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        match Scenario::of(scope).map(|scenario| scenario.value()) {
            Some("memory") => Ok(ScenarioStore::Memory(scope.use_fixture()?)),
            Some("redis") => Ok(ScenarioStore::Redis(scope.use_fixture()?)),
            other => Err(format!(
                "`ScenarioStore` runs in scenarios `memory` and `redis`, not {other:?} \
                 (hint: `#[testbed::test(scenarios(memory, redis), resources(REDIS_SERVER))]`)"
            )
            .into()),
        }
    }
}

impl Store for ScenarioStore {
    fn builder(&self) -> RegionBuilder {
        match self {
            ScenarioStore::Memory(store) => store.builder(),
            ScenarioStore::Redis(store) => store.builder(),
        }
    }
}
