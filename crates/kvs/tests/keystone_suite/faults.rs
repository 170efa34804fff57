//! Redis that fails under the suite's fixture and regions: a server of the test's own
//! (`redis-server` on a spare port, never the shared one), frozen with SIGSTOP or
//! killed. A test on a frozen server fails within seconds instead of hanging; every
//! error names the server's address.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvs::Region;
use testbed::{Outcome, Scope};

use crate::stores::{Redis, RedisServer, Store};

/// A loose bound on how long a call on a frozen server takes to fail: the goal is the
/// fixture's and the backend's 2 s timeouts; before them, for ever.
const FAILS_WITHIN: Duration = Duration::from_secs(20);

/// A `redis-server` of one test, on a spare port, persisting nothing; killed on drop.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a spare port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            testbed::skip(
                "redis",
                "the Redis server program (redis-server) is not installed",
            );
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PrivateRedis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn timed<T>(what: &str, call: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = call();
    assert!(
        started.elapsed() < FAILS_WITHIN,
        "{what} took {:?}",
        started.elapsed()
    );
    result
}

#[testbed::test]
fn a_frozen_redis_fails_the_test_within_seconds() {
    let private = PrivateRedis::start();
    let server = RedisServer::at(&private.url()).expect("the private server answers");
    let scope = Scope::new("frozen redis");
    let store = Redis::on(&server, &scope).expect("the fixture connects");
    let region: Region = store.region().expect("a region");
    region
        .set("k", &"v".to_owned())
        .expect("a write while it answers");

    private.signal("STOP");
    let error = timed("a region's read", || region.get::<String>("k")).unwrap_err();
    println!("region: {error}");
    let report = timed("the fixture's cleanup", || scope.finish(Outcome::Passed)).unwrap_err();
    let said = report.to_string();
    assert!(said.contains(server.address()), "{said}");
    println!("cleanup: {said}");
    private.signal("CONT");
}

#[testbed::test]
fn a_killed_redis_fails_the_fixture_naming_its_address() {
    let mut private = PrivateRedis::start();
    let server = RedisServer::at(&private.url()).expect("the private server answers");
    private.child.kill().unwrap();
    private.child.wait().unwrap();
    let scope = Scope::new("killed redis");
    let error = timed("the fixture's setup", || Redis::on(&server, &scope))
        .err()
        .expect("the server is gone");
    let said = error.to_string();
    assert!(
        said.contains(server.address()) && said.contains("refused"),
        "{said}"
    );
}
