//! A database server as one process sees it: probed on first use, and probed again
//! after a test found it lost, for PostgreSQL and MySQL alike.
//!
//! A server that answered earlier in the run and does not now is a
//! [`ServerCallError::Lost`] naming the cause, never a skip: in this process the cache
//! knows, and under nextest an earlier process of the run left a record (see
//! `reached`). While it stays away, the tests that need it fail at once (a probe at
//! most every [`REPROBE_EVERY`]); when it answers again, the next test probes it, takes
//! a new lease and goes on. Errors of testbed's own work that say the connection failed
//! (see [`crate::error::is_connection_failure`]) mark the server lost, through
//! [`ServerCache::checked`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::error::CallFailure;
use crate::probe::ProbeFailure;
use crate::{Backend, ServerCallError};

/// How often, at most, a lost server is probed again while it stays away.
pub(crate) const REPROBE_EVERY: Duration = Duration::from_secs(1);

/// How long a lost server is given to answer a connection, to name the cause.
const CHECK_WITHIN: Duration = Duration::from_secs(3);

/// How long a test's acquire or release waits before asking whether the server answers.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// A probed server: its lease and pools are good until a test finds it lost.
pub(crate) trait Server: Send + Sync + 'static {
    /// Set once a test found the server's connection lost.
    fn lost(&self) -> &AtomicBool;
    /// Its URL, secrets redacted.
    fn redacted_url(&self) -> String;
    /// Opens and closes one connection to it, to name what connecting gives now.
    fn try_connect(&self) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>>;
}

struct Cached<S> {
    /// The last probe's result; `None` before the first.
    current: Option<Result<Arc<S>, ProbeFailure>>,
    /// Whether a probe of this process ever reached the server.
    reached: bool,
    /// When a lost server's last probe failed, and how.
    failed_reprobe: Option<(Instant, ProbeFailure)>,
}

/// One backend's server, as this process sees it.
pub(crate) struct ServerCache<S> {
    backend: Backend,
    cached: Mutex<Cached<S>>,
}

impl<S: Server> ServerCache<S> {
    /// An empty cache: the first [`get`](Self::get) probes.
    pub(crate) const fn new(backend: Backend) -> Self {
        ServerCache {
            backend,
            cached: Mutex::const_new(Cached {
                current: None,
                reached: false,
                failed_reprobe: None,
            }),
        }
    }

    /// The server: the cached one unless it was lost, else what `probe` finds now.
    /// `configured` is the configured URL, redacted; `into_error` words a failure for a
    /// server never reached (a skip, or a configuration error).
    pub(crate) async fn get<P>(
        &self,
        configured: &str,
        probe: impl FnOnce() -> P,
        into_error: fn(ProbeFailure) -> ServerCallError,
    ) -> Result<Arc<S>, ServerCallError>
    where
        P: Future<Output = Result<Arc<S>, ProbeFailure>>,
    {
        let lost_error = |failure: ProbeFailure| {
            failure
                .lost(self.backend, configured)
                .unwrap_or_else(into_error)
        };
        let mut cached = self.cached.lock().await;
        match &cached.current {
            Some(Ok(server)) if !server.lost().load(Ordering::Relaxed) => {
                return Ok(server.clone());
            }
            Some(Err(failure)) if !cached.reached => return Err(into_error(failure.clone())),
            None => {}
            Some(_) => {
                if let Some((at, failure)) = &cached.failed_reprobe
                    && at.elapsed() < REPROBE_EVERY
                {
                    return Err(lost_error(failure.clone()));
                }
            }
        }
        let probed = probe().await;
        match &probed {
            Ok(_) => {
                cached.reached = true;
                cached.failed_reprobe = None;
                // Under the configured URL, the key a later process looks it up by.
                crate::reached::note(self.backend, configured);
            }
            Err(failure)
                if cached.reached
                    || crate::reached::earlier_in_this_run(self.backend, configured) =>
            {
                cached.reached = true;
                cached.failed_reprobe = Some((Instant::now(), failure.clone()));
                let error = lost_error(failure.clone());
                cached.current = Some(probed);
                return Err(error);
            }
            Err(_) => {}
        }
        cached.current = Some(probed.clone());
        probed.map_err(into_error)
    }

    /// Runs `work` (a test's acquire or release), asking the server whether it answers
    /// each [`WATCH_EVERY`] that `work` is still waiting: a server that stopped answering
    /// (frozen, or its host gone) would otherwise keep the test waiting for ever on a
    /// connection that never hears back. One that does not answer within
    /// [`CHECK_WITHIN`] is lost: the test fails with [`ServerCallError::Lost`], and
    /// `work` is left behind (on the engine, until the server answers or the process
    /// ends). Errors then pass through [`checked`](Self::checked).
    pub(crate) async fn watched<T, E: CallFailure>(
        &'static self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut work = std::pin::pin!(work);
        let result = loop {
            match tokio::time::timeout(WATCH_EVERY, &mut work).await {
                Ok(result) => break result,
                Err(_) => {
                    if let Some(lost) = crate::engine::run(self.unanswered()).await {
                        break Err(lost.into());
                    }
                }
            }
        };
        self.checked(result).await
    }

    /// The error for a server that does not answer a connection now, marked lost.
    async fn unanswered(&'static self) -> Option<ServerCallError> {
        let server = match &self.cached.lock().await.current {
            Some(Ok(server)) => server.clone(),
            _ => return None,
        };
        let cause = match tokio::time::timeout(CHECK_WITHIN, server.try_connect()).await {
            Err(_) => format!("no answer within {} s", CHECK_WITHIN.as_secs()),
            Ok(Err(error)) if crate::error::is_connection_failure(&error) => error.to_string(),
            // It answers (or refuses as a full server does): the work is only slow.
            Ok(_) => return None,
        };
        server.lost().store(true, Ordering::Relaxed);
        Some(ServerCallError::Lost {
            backend: self.backend,
            url: server.redacted_url(),
            reason: crate::Reason::new(cause),
        })
    }

    /// `result`, with an error that says the connection failed turned into what the
    /// server gives now: the server is marked lost (the next test probes it again) and,
    /// if it does not answer, the error is [`ServerCallError::Lost`] with the cause.
    /// Runs the check on the engine.
    pub(crate) async fn checked<T, E: CallFailure>(
        &'static self,
        result: Result<T, E>,
    ) -> Result<T, E> {
        match result.map_err(E::into_lost_connection) {
            Ok(value) => Ok(value),
            Err(Ok(lost)) => Err(crate::engine::run(self.name_the_cause(lost)).await.into()),
            Err(Err(error)) => Err(error),
        }
    }

    async fn name_the_cause(&self, error: ServerCallError) -> ServerCallError {
        let server = match &self.cached.lock().await.current {
            Some(Ok(server)) => server.clone(),
            _ => return error,
        };
        // A pool that timed out on a server that answers lost no connection of ours.
        let timed_out = matches!(
            &error,
            ServerCallError::Statement {
                source: sqlx::Error::PoolTimedOut,
                ..
            }
        );
        let cause = match tokio::time::timeout(CHECK_WITHIN, server.try_connect()).await {
            Err(_) => format!("no answer within {} s", CHECK_WITHIN.as_secs()),
            Ok(Err(now)) if crate::error::is_too_many_connections(&now) => {
                return ServerCallError::TooManyConnections {
                    backend: self.backend,
                };
            }
            Ok(Err(now)) => now.to_string(),
            // It answers (restarted, or only slow): unless the error was only a wait,
            // this test's connections went with the old server, and the next test takes
            // a new lease.
            Ok(Ok(())) => {
                if !timed_out {
                    server.lost().store(true, Ordering::Relaxed);
                }
                return error;
            }
        };
        server.lost().store(true, Ordering::Relaxed);
        ServerCallError::Lost {
            backend: self.backend,
            url: server.redacted_url(),
            reason: crate::Reason::new(cause),
        }
    }
}

/// How long an admin connection is waited for before the server is asked whether it
/// refuses connections.
const REFUSAL_CHECK_EVERY: Duration = Duration::from_millis(500);

/// A connection of `pool`, one of `server`'s admin pools; or, once the server refuses
/// connections, that refusal, within about a second instead of after the pool's whole
/// wait (sqlx retries a refused connection until its acquire timeout, as it would for a
/// server starting up). A busy server that answers is waited for as long as the pool
/// allows.
pub(crate) async fn acquire<DB: sqlx::Database>(
    server: &impl Server,
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::pool::PoolConnection<DB>, sqlx::Error> {
    let mut acquiring = std::pin::pin!(pool.acquire());
    loop {
        if let Ok(result) = tokio::time::timeout(REFUSAL_CHECK_EVERY, &mut acquiring).await {
            return result;
        }
        if let Err(error) = server.try_connect().await
            && matches!(&error, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return Err(error);
        }
    }
}
