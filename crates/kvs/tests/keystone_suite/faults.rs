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
        // A spare port is only spare until someone else binds it (another test's
        // private server, say): then this server exits and the port answers for
        // another. Tried again on a new port until the server answering is this one.
        for _ in 0..5 {
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
            let mut private = PrivateRedis { child, port };
            if private.answers_as_itself() {
                return private;
            }
            // Dropped: killed and reaped.
        }
        panic!("redis-server did not start on a spare port in 5 tries");
    }

    /// Waits until the server on the port answers and says it is this child (its
    /// `process_id`); false if the child exited or another process answers.
    fn answers_as_itself(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            if let Some(pid) = server_pid(self.port) {
                return pid == self.child.id();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not listen on {} within 10 s", self.port);
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

/// The process id the Redis server on `port` reports (`INFO server`), if one answers.
fn server_pid(port: u16) -> Option<u32> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .ok()?;
    let mut reply = Vec::new();
    let mut piece = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).contains("process_id:") {
        let read = stream.read(&mut piece).ok().filter(|read| *read > 0)?;
        reply.extend_from_slice(&piece[..read]);
    }
    let reply = String::from_utf8_lossy(&reply);
    let line = reply.lines().find(|line| line.starts_with("process_id:"))?;
    line.trim_start_matches("process_id:").trim().parse().ok()
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
