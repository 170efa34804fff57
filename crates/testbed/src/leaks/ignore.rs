//! The ignore rules declared in code for things that are long-lived by design (a shared
//! runtime's worker threads, a log file kept open): once declared, they are never
//! reported, in any test of the process.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

static THREADS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static PATHS: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());
static ENV_VARS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static PEERS: RwLock<Vec<SocketAddr>> = RwLock::new(Vec::new());
/// Threads (by id) and descriptors (by number and target) [`long_lived`] saw start.
static LONG_LIVED_THREADS: RwLock<Vec<u64>> = RwLock::new(Vec::new());
static LONG_LIVED_FDS: RwLock<Vec<(u32, PathBuf)>> = RwLock::new(Vec::new());

fn add<T: PartialEq>(rules: &RwLock<Vec<T>>, rule: T) {
    let mut rules = rules
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !rules.contains(&rule) {
        rules.push(rule);
    }
}

/// Never reports threads whose name starts with `prefix`: declare it where the
/// long-lived threads are started, once per process (declaring it again is harmless).
///
/// Linux keeps 15 bytes of a thread's name, so a prefix longer than that also matches
/// a name cut at 15 bytes that it starts with (`"tokio-runtime-worker"` matches
/// `tokio-runtime-w`).
///
/// ```
/// use std::sync::OnceLock;
///
/// /// A pool shared by every test of the binary, started by the first that needs it.
/// fn shared_pool() -> &'static std::thread::JoinHandle<()> {
///     static POOL: OnceLock<std::thread::JoinHandle<()>> = OnceLock::new();
///     POOL.get_or_init(|| {
///         testbed::leaks::ignore_threads_named("shared-pool");
///         std::thread::Builder::new()
///             .name("shared-pool".into())
///             .spawn(|| std::thread::park())
///             .unwrap()
///     })
/// }
///
/// #[testbed::test]
/// fn uses_the_pool() {
///     shared_pool();
/// }
/// # uses_the_pool();
/// ```
pub fn ignore_threads_named(prefix: impl Into<String>) {
    add(&THREADS, prefix.into());
}

/// Never reports file descriptors or temporary files whose path starts with `prefix`.
///
/// ```
/// let logs = std::env::temp_dir().join("my-app-test-logs");
/// testbed::leaks::ignore_paths_under(&logs);
/// ```
pub fn ignore_paths_under(prefix: impl AsRef<Path>) {
    add(&PATHS, prefix.as_ref().to_owned());
}

/// Never reports environment variables whose name starts with `prefix`.
///
/// ```
/// // A library caches its settings in the environment on first use.
/// testbed::leaks::ignore_env_vars("MY_LIB_CACHE_");
/// ```
pub fn ignore_env_vars(prefix: impl Into<String>) {
    add(&ENV_VARS, prefix.into());
}

/// Never reports sockets connected to `peer`: declare it where a long-lived pool of
/// connections to a server is made (testbed-db declares its servers' addresses).
///
/// ```
/// let server: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
/// testbed::leaks::ignore_connections_to(server);
/// ```
pub fn ignore_connections_to(peer: SocketAddr) {
    add(&PEERS, peer);
}

/// Runs `start`, and never reports the threads and file descriptors that appeared while
/// it ran: wrap what starts a long-lived thing in it (a runtime shared by every test, with
/// its worker threads and its `epoll` descriptors), where its names and paths are not
/// known in advance.
///
/// Whatever else the process started meanwhile (another test running in parallel under
/// `cargo test`) is left out of the reports too: wrap only the start itself.
///
/// ```
/// use std::sync::OnceLock;
/// use std::sync::mpsc::{Sender, channel};
///
/// /// A worker shared by every test of the binary, started by the first that needs it:
/// /// an unnamed thread, which no rule could name in advance.
/// fn shared_worker() -> &'static Sender<u32> {
///     static WORKER: OnceLock<Sender<u32>> = OnceLock::new();
///     WORKER.get_or_init(|| {
///         testbed::leaks::long_lived(|| {
///             let (sender, receiver) = channel::<u32>();
///             std::thread::spawn(move || for _job in receiver {});
///             sender
///         })
///     })
/// }
///
/// #[testbed::test]
/// fn uses_the_shared_worker() {
///     shared_worker().send(1).unwrap();
/// }
/// # uses_the_shared_worker();
/// ```
pub fn long_lived<T>(start: impl FnOnce() -> T) -> T {
    let threads = super::dir::thread_ids().unwrap_or_default();
    let fds = super::dir::open_fds().unwrap_or_default();
    let started = start();
    if let Ok(now) = super::dir::thread_ids() {
        for tid in now
            .into_iter()
            .filter(|tid| threads.binary_search(tid).is_err())
        {
            add(&LONG_LIVED_THREADS, tid);
        }
    }
    for opened in super::dir::fds_opened_since(&fds) {
        add(&LONG_LIVED_FDS, opened);
    }
    started
}

/// The length Linux cuts a thread's name to (`comm`, without its NUL).
const THREAD_NAME_MAX: usize = 15;

pub(super) fn thread_ignored(name: &str) -> bool {
    let rules = THREADS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    rules.iter().any(|prefix| {
        name.starts_with(prefix.as_str())
            || (name.len() == THREAD_NAME_MAX && prefix.starts_with(name))
    })
}

pub(super) fn thread_id_ignored(tid: u64) -> bool {
    if super::runner_holds::holds_thread(tid) {
        return true;
    }
    let rules = LONG_LIVED_THREADS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    rules.contains(&tid)
}

pub(super) fn fd_ignored(fd: u32, target: &Path) -> bool {
    if super::runner_holds::holds_fd(fd, target) {
        return true;
    }
    let rules = LONG_LIVED_FDS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    rules
        .iter()
        .any(|(number, known)| *number == fd && known == target)
}

pub(super) fn peer_ignored(peer: &SocketAddr) -> bool {
    let rules = PEERS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    rules.contains(peer)
}

pub(super) fn path_ignored(path: &Path) -> bool {
    let rules = PATHS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    rules.iter().any(|prefix| path.starts_with(prefix))
}

pub(super) fn env_ignored(name: &OsStr) -> bool {
    let rules = ENV_VARS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let name = name.to_string_lossy();
    rules.iter().any(|prefix| name.starts_with(prefix.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_prefix_matches_a_name_cut_by_the_kernel() {
        ignore_threads_named("unit-test-runtime-worker");
        // 14 bytes: not a name the kernel cut.
        assert!(!thread_ignored("unit-test-runt"));
        assert!(thread_ignored("unit-test-runti"));
        assert!(thread_ignored("unit-test-runtime-worker-7"));
        assert!(!thread_ignored("unit-other"));
    }
}
