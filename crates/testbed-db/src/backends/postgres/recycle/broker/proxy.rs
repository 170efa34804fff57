//! The broker's session pool: a PostgreSQL socket through which test processes reach
//! the databases the broker handed them, on server sessions the broker keeps warm.
//!
//! A new server session is the costliest part of a test process's work under a
//! process-per-test runner: the server starts a backend, and every table the test
//! touches has its catalog entries read again by it. The proxy keeps the sessions of a
//! test that ended cleanly and gives them to the next test of the same database, as
//! PgBouncer's session pooling does: the first connection to a database is passed
//! through to the server as it is (the client authenticates itself); when the client
//! says goodbye (`Terminate`) with nothing in flight and no transaction open, the
//! proxy runs `DISCARD ALL` on the session and keeps it; the next client of that
//! database with the same startup parameters gets it, greeted with the parameters and
//! key the server sent for it. A session left in any other state (a client killed
//! mid-query, a transaction open, the stream broken) is closed, never reused.
//!
//! Only a database the broker handed to a test that still runs is served; the broker
//! waits for the proxy to be done with a database's sessions before it resets it (see
//! `serve`), and ends every session on it but the kept ones, whose ids it gets here.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::super::super::kept;
use super::relay::reusable_after;
use super::upstream::{ServerStream, Upstream};
use super::wire::{self, Opening, Reader};

/// Sessions kept per database: as many as a test's pool opens, so that the next test
/// opens none (measured on the generated suite at `-j 4`: with two kept, 138 new server
/// sessions per 200 tests, each costing the server about 15 ms of CPU to start and warm
/// its catalog caches). The cap on all kept sessions ([`kept::max_kept`]) still holds.
const KEPT_PER_DATABASE: usize = crate::pool_limit::TEST_POOL_CONNECTIONS as usize;

/// How long the broker waits for the proxy to finish with a database's sessions after
/// its test let it go (the client closed them first, so this is the time to see its
/// goodbyes through).
const SETTLE_WITHIN: Duration = Duration::from_secs(5);

/// A server session kept for the next client of its database.
struct Kept {
    /// The startup parameters it was opened with: only a client asking for the same
    /// gets it.
    parameters: Vec<(String, String)>,
    /// What the server sent after authenticating it, up to its first `ReadyForQuery`
    /// (parameter statuses, the cancellation key).
    greeting: Vec<u8>,
    /// Its server process id.
    pid: i32,
    /// When it was last kept (a `kept::tick`): the least recent goes first past the cap.
    kept_since: u64,
    stream: ServerStream,
}

/// What the proxy knows of each database.
#[derive(Default)]
struct Databases {
    /// Databases handed to a test that still runs: the only ones served.
    handed: HashSet<String>,
    /// Client connections being served, per database.
    serving: HashMap<String, usize>,
    /// Databases whose test let them go, while the broker waits for their sessions.
    settling: HashSet<String>,
    /// Databases the broker is resetting.
    resetting: HashSet<String>,
    /// Sessions kept, per database.
    kept: HashMap<String, Vec<Kept>>,
}

/// The proxy: its socket and its databases.
pub(super) struct Proxy {
    upstream: Upstream,
    databases: Mutex<Databases>,
    settled: tokio::sync::Notify,
}

impl Proxy {
    fn databases(&self) -> MutexGuard<'_, Databases> {
        self.databases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `name` from now on: a test was handed it.
    pub(super) fn hand(&self, name: &str) {
        self.databases().handed.insert(name.to_owned());
    }

    /// Stops serving `name` (its test let it go) and waits, up to [`SETTLE_WITHIN`],
    /// until no client connection to it is being served; returns the server process ids
    /// of the sessions kept for it, which the broker leaves alone when it ends the
    /// test's sessions.
    pub(super) async fn take_back(&self, name: &str) -> Vec<i32> {
        {
            let mut databases = self.databases();
            databases.handed.remove(name);
            databases.settling.insert(name.to_owned());
        }
        let _ = tokio::time::timeout(SETTLE_WITHIN, async {
            loop {
                let settled = self.settled.notified();
                if self.databases().serving.get(name).copied().unwrap_or(0) == 0 {
                    return;
                }
                settled.await;
            }
        })
        .await;
        let mut databases = self.databases();
        databases.settling.remove(name);
        databases.resetting.insert(name.to_owned());
        databases
            .kept
            .get(name)
            .map(|kept| kept.iter().map(|kept| kept.pid).collect())
            .unwrap_or_default()
    }

    /// The broker is done with `name` after [`Self::take_back`]: its kept sessions stay
    /// for the next test if `reset` (the database is clean and the broker keeps it),
    /// else they are closed.
    pub(super) fn done(&self, name: &str, reset: bool) {
        let mut databases = self.databases();
        databases.resetting.remove(name);
        if !reset {
            databases.kept.remove(name);
        }
    }

    /// Closes the sessions kept for every database that no test uses, the broker is not
    /// taking back, and `holds` says the broker no longer holds claimed (it let it go to
    /// keep its connections few). A database being handed out is still claimed: its
    /// sessions stay for the test it goes to.
    pub(super) fn prune(&self, holds: impl Fn(&str) -> bool) {
        let databases = &mut *self.databases();
        let (handed, settling, resetting) =
            (&databases.handed, &databases.settling, &databases.resetting);
        databases.kept.retain(|name, _| {
            handed.contains(name)
                || settling.contains(name)
                || resetting.contains(name)
                || holds(name)
        });
    }

    /// Starts serving on `dir/.s.PGSQL.<port>` (the name a PostgreSQL client gives a
    /// socket in `dir`). Runs until the runtime ends.
    pub(super) fn start(dir: &Path, port: u16, upstream: Upstream) -> io::Result<Arc<Self>> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        // Only this user may connect: a kept session asks for no password.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        let socket = dir.join(format!(".s.PGSQL.{port}"));
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)?;
        let proxy = Arc::new(Self {
            upstream,
            databases: Mutex::default(),
            settled: tokio::sync::Notify::new(),
        });
        let serving = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let proxy = serving.clone();
                tokio::spawn(async move { proxy.serve(client).await });
            }
        });
        Ok(proxy)
    }

    /// One client connection, from its startup packet to its end.
    async fn serve(&self, client: UnixStream) {
        let mut client = Reader::new(client);
        let parameters = loop {
            let Ok(packet) = client.untyped().await else {
                return;
            };
            match wire::opening(&packet) {
                Ok(Opening::Encryption) => {
                    if client.stream_mut().write_all(b"N").await.is_err() {
                        return;
                    }
                }
                Ok(Opening::Startup(parameters)) => break parameters,
                Err(_) => return,
            }
        };
        let database = parameters
            .iter()
            .find(|(key, _)| key == "database")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let kept = self.admit(&database, &parameters);
        let Some(kept) = kept else {
            let refusal = wire::fatal(
                "08004",
                &format!(
                    "testbed's broker serves `{database}` only to the test it was handed \
                         to, and that test has ended"
                ),
            );
            let _ = client.stream_mut().write_all(&refusal).await;
            return;
        };
        let session = match kept {
            Some(kept) => {
                let step = crate::trace::step("session pool: kept session given");
                let greeted = self.greet(client, kept).await;
                step.end();
                greeted
            }
            None => {
                let step = crate::trace::step("session pool: new session");
                let opened = self.pass_through(client, &parameters).await;
                step.end();
                opened
            }
        };
        if let Some((client, kept)) = session {
            let step = crate::trace::step("session pool: client session");
            let ended = relay(client, kept).await;
            step.end();
            if ended.is_none() {
                crate::trace::step("session pool: session not reusable").end();
            }
            if let Some(kept) = ended {
                let mut databases = self.databases();
                // Kept while its test runs or the broker waits for its sessions; once
                // the broker has taken the database back, a late one is closed.
                if databases.handed.contains(&database) || databases.settling.contains(&database) {
                    let list = databases.kept.entry(database.clone()).or_default();
                    if list.len() < KEPT_PER_DATABASE {
                        list.push(Kept {
                            kept_since: kept::tick(),
                            ..kept
                        });
                        limit_kept(&mut databases.kept, kept::max_kept());
                    }
                }
            }
        }
        let mut databases = self.databases();
        if let Some(count) = databases.serving.get_mut(&database) {
            *count -= 1;
            if *count == 0 {
                databases.serving.remove(&database);
            }
        }
        drop(databases);
        self.settled.notify_waiters();
    }

    /// Counts a client of `database` in, with a kept session for it if there is one;
    /// `None` if `database` is not handed to a running test.
    fn admit(&self, database: &str, parameters: &[(String, String)]) -> Option<Option<Kept>> {
        let mut databases = self.databases();
        if !databases.handed.contains(database) {
            return None;
        }
        *databases.serving.entry(database.to_owned()).or_default() += 1;
        Some(take_kept(&mut databases, database, parameters))
    }

    /// Greets `client` on a kept session, as the server greeted its first client.
    async fn greet(
        &self,
        mut client: Reader<UnixStream>,
        kept: Kept,
    ) -> Option<(Reader<UnixStream>, Kept)> {
        let mut greeting = wire::authentication_ok();
        greeting.extend_from_slice(&kept.greeting);
        greeting.extend(wire::ready_for_query(b'I'));
        client.stream_mut().write_all(&greeting).await.ok()?;
        Some((client, kept))
    }

    /// Opens a new server session for `client`, passing the startup packet and the
    /// authentication through, and records the server's greeting.
    async fn pass_through(
        &self,
        client: Reader<UnixStream>,
        parameters: &[(String, String)],
    ) -> Option<(Reader<UnixStream>, Kept)> {
        let mut stream = match self.upstream.connect().await {
            Ok(stream) => stream,
            Err(error) => {
                let refusal = wire::fatal(
                    "08001",
                    &format!("testbed's broker cannot reach the server: {error}"),
                );
                let mut client = client;
                let _ = client.stream_mut().write_all(&refusal).await;
                return None;
            }
        };
        let mut client = client;
        let (greeting, pid) = {
            let (server_read, mut server_write) = stream.split();
            server_write
                .write_all(&startup_packet(parameters))
                .await
                .ok()?;
            let mut server = Reader::new(server_read);
            authenticate(&mut client, &mut server, &mut server_write).await?
        };
        Some((
            client,
            Kept {
                parameters: parameters.to_vec(),
                greeting,
                pid,
                kept_since: 0,
                stream,
            },
        ))
    }
}

/// Closes the least recently kept sessions while more than `cap` are kept in all
/// ([`kept::max_kept`], `TESTBED_PG_MAX_KEPT_CONNECTIONS`, the cap on the broker's reset
/// sessions too), so a broker serving many schemas keeps the server's connections few.
fn limit_kept(kept: &mut HashMap<String, Vec<Kept>>, cap: usize) {
    let mut total: usize = kept.values().map(Vec::len).sum();
    while total > cap {
        let oldest = kept
            .iter()
            .flat_map(|(name, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(at, kept)| (kept.kept_since, name.clone(), at))
            })
            .min();
        let Some((_, name, at)) = oldest else { break };
        if let Some(list) = kept.get_mut(&name) {
            list.swap_remove(at);
        }
        total -= 1;
    }
}

/// Takes a kept session of `database` opened with `parameters` that is still quiet;
/// closes the ones found dead on the way.
fn take_kept(
    databases: &mut Databases,
    database: &str,
    parameters: &[(String, String)],
) -> Option<Kept> {
    let list = databases.kept.get_mut(database)?;
    while let Some(at) = list.iter().position(|kept| kept.parameters == parameters) {
        let kept = list.swap_remove(at);
        if kept.stream.is_quiet() {
            return Some(kept);
        }
    }
    None
}

/// The startup packet for `parameters`.
fn startup_packet(parameters: &[(String, String)]) -> Vec<u8> {
    let mut packet = vec![0, 0, 0, 0];
    packet.extend(196_608u32.to_be_bytes());
    for (key, value) in parameters {
        packet.extend(key.as_bytes());
        packet.push(0);
        packet.extend(value.as_bytes());
        packet.push(0);
    }
    packet.push(0);
    let length = packet.len() as u32;
    packet[..4].copy_from_slice(&length.to_be_bytes());
    packet
}

/// Passes the authentication between client and server until the server's first
/// `ReadyForQuery`; returns what the server sent after authenticating (for the next
/// client of the session) and the session's process id. `None` if it failed (the
/// server's error reached the client).
async fn authenticate(
    client: &mut Reader<UnixStream>,
    server: &mut Reader<impl AsyncRead + Unpin>,
    server_write: &mut (impl AsyncWrite + Unpin),
) -> Option<(Vec<u8>, i32)> {
    let (mut greeting, mut pid, mut authenticated) = (Vec::new(), None, false);
    loop {
        let message = server.next().await.ok()??;
        client.stream_mut().write_all(&message.bytes).await.ok()?;
        match message.kind {
            b'R' => match wire::authentication_code(&message)? {
                0 => authenticated = true,
                // SASL's final message asks for no answer.
                12 => {}
                _ => {
                    let answer = client.next().await.ok()??;
                    server_write.write_all(&answer.bytes).await.ok()?;
                }
            },
            b'E' => return None,
            b'Z' if authenticated => return Some((greeting, pid?)),
            _ if authenticated => {
                pid = pid.or(wire::backend_pid(&message));
                greeting.extend_from_slice(&message.bytes);
            }
            _ => {}
        }
    }
}

/// Passes messages both ways until the client leaves. Returns the session, reset with
/// `DISCARD ALL`, when it can serve another client: the client said goodbye with every
/// answer delivered (a transaction it left open is rolled back first).
async fn relay(client: Reader<UnixStream>, mut kept: Kept) -> Option<Kept> {
    reusable_after(client, &mut kept.stream)
        .await
        .then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(kept_since: u64) -> Kept {
        let (stream, _other_end) = std::os::unix::net::UnixStream::pair().unwrap();
        stream.set_nonblocking(true).unwrap();
        Kept {
            parameters: Vec::new(),
            greeting: Vec::new(),
            pid: kept_since as i32,
            kept_since,
            stream: ServerStream::Unix(UnixStream::from_std(stream).unwrap()),
        }
    }

    #[tokio::test]
    async fn past_the_cap_the_least_recently_kept_sessions_go() {
        let mut kept = HashMap::new();
        kept.insert("a".to_owned(), vec![session(1), session(4)]);
        kept.insert("b".to_owned(), vec![session(2), session(3)]);
        limit_kept(&mut kept, 2);
        let mut left: Vec<i32> = kept.values().flatten().map(|kept| kept.pid).collect();
        left.sort();
        assert_eq!(left, [3, 4]);
    }
}
