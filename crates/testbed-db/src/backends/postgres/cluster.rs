//! A throwaway PostgreSQL cluster, for machines with PostgreSQL's server programs but no
//! running server (or when `TESTBED_POSTGRES_URL=cluster` asks for one).
//!
//! It is tuned for tests (fsync, synchronous commit and full-page writes off), keeps its
//! data on a RAM disk when there is one, and is shared by every test process: each holds
//! a shared lock on `users.lock` for its life, and a small watcher stops the cluster and
//! removes its data once nobody holds that lock (`cargo testbed db prune` does the same
//! for an unused one). The server programs refuse to run as root, so as root they run as
//! the `postgres` system user.
//!
//! A process may be killed at any moment of the start, so its order makes every moment
//! safe: the port file is written before the server starts (a running server's port is
//! always the one on file), and a watcher is made sure of, before the start and by every
//! process that joins (at most one runs: it holds `watcher.lock`), so a server whose
//! starter died still gets stopped and removed.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::retry::Pace;
use crate::{Backend, ServerCallError};

/// The value of `TESTBED_POSTGRES_URL` that asks for the throwaway cluster.
pub(crate) const CLUSTER: &str = "cluster";

fn unavailable(reason: impl std::fmt::Display) -> ServerCallError {
    ServerCallError::Unavailable(testbed::Unavailable::new(
        Backend::Postgres.name(),
        format!(
            "{reason} (hint: start PostgreSQL, set TESTBED_POSTGRES_URL, or install the \
             PostgreSQL server programs for a throwaway cluster)"
        ),
    ))
}

/// Where the cluster lives: on the RAM disk when there is one.
pub(crate) fn base_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    // One per user: a cluster is run by, and for, whoever started it.
    parent.join(format!("testbed-postgres-{}", euid().unwrap_or_default()))
}

/// The directory holding `initdb` and `pg_ctl`: on the `PATH`, else the newest of
/// Debian's `/usr/lib/postgresql/<version>/bin`.
pub(crate) fn programs() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

/// The effective user id, from `/proc` (no libc needed).
pub(crate) fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The uid and gid of the `postgres` system user.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

/// How to run a server program: directly, or as `postgres` when we are root.
struct Runner {
    bin: PathBuf,
    as_postgres: bool,
}

impl Runner {
    fn new() -> Result<Self, ServerCallError> {
        let bin = programs().ok_or_else(|| unavailable("no PostgreSQL server answers and its server programs (initdb, pg_ctl) are not installed"))?;
        let as_postgres = euid() == Some(0);
        Ok(Runner { bin, as_postgres })
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.stdin(Stdio::null());
        command
    }

    /// The shell words that run `program` (for the watcher's script).
    fn shell(&self, program: &str) -> String {
        let path = quote(&self.bin.join(program));
        if self.as_postgres {
            format!("runuser -u postgres -- {path}")
        } else {
            path
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), ServerCallError> {
        let output = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| unavailable(format!("cannot run `{program}`: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(unavailable(format!(
                "`{program}` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// This process's hold on the cluster: a shared lock on `users.lock` until it exits.
static USING: OnceLock<File> = OnceLock::new();

/// Starts the cluster if it is not running, joins it, and returns its admin URL.
pub(crate) async fn start() -> Result<String, ServerCallError> {
    tokio::task::spawn_blocking(start_blocking)
        .await
        .map_err(|e| unavailable(format!("the cluster's start panicked: {e}")))?
}

fn start_blocking() -> Result<String, ServerCallError> {
    let runner = Runner::new()?;
    let base = base_dir();
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |e| ServerCallError::file(action, path, e)
    };
    std::fs::create_dir_all(&base).map_err(io("create", &base))?;
    if runner.as_postgres {
        let (uid, gid) = postgres_user().ok_or_else(|| {
            unavailable(
                "running as root and there is no `postgres` user to run the server programs as",
            )
        })?;
        std::os::unix::fs::chown(&base, Some(uid), Some(gid))
            .map_err(io("hand to postgres", &base))?;
    }
    let lock_path = base.join("lock");
    let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
    lock.lock().map_err(io("lock", &lock_path))?;
    let data = base.join("data");
    let port_path = base.join("port");
    let running = runner
        .command("pg_ctl")
        .args(["status", "-D"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let port = if running {
        let port = std::fs::read_to_string(&port_path)
            .map_err(io("read", &port_path))?
            .trim()
            .to_owned();
        // Its starter may have been killed while it was still starting up.
        wait_until_ready(&data)?;
        port
    } else {
        if !data.join("global").join("pg_control").exists() {
            // Made in a scratch directory and moved into place when complete: an initdb
            // cut short (its process killed; it may even run on) never looks like a
            // cluster. What such starters left is removed first.
            let _ = std::fs::remove_dir_all(&data);
            remove_scratch(&base);
            let scratch = base.join(format!("{SCRATCH_PREFIX}{}", crate::owner::token()));
            let scratch_arg = scratch.display().to_string();
            runner.run(
                "initdb",
                &[
                    "-D",
                    &scratch_arg,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )?;
            std::fs::rename(&scratch, &data).map_err(io("move into place", &scratch))?;
        }
        let port = free_port().map_err(io("find a free port for", &base))?;
        // Before the start: if this process dies once the server runs, the next one
        // finds the server's port here.
        std::fs::write(&port_path, &port).map_err(io("write", &port_path))?;
        // And a watcher to stop it: it waits for `lock`, held here until this process
        // has joined, so it can only act once this process is a user, or dead.
        spawn_watcher(&runner, &base).map_err(io("start the watcher of", &base))?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -F -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            base.display()
        );
        let log = base.join("server.log").display().to_string();
        let data_arg = data.display().to_string();
        runner.run(
            "pg_ctl",
            &[
                "start", "-D", &data_arg, "-l", &log, "-w", "-t", "60", "-o", &options,
            ],
        )?;
        port
    };
    let users_path = base.join("users.lock");
    if USING.get().is_none() {
        let users = File::create(&users_path).map_err(io("create", &users_path))?;
        users.lock_shared().map_err(io("lock", &users_path))?;
        // Held until the process exits, by design: not a leak of the test that took it.
        testbed::leaks::ignore_paths_under(&users_path);
        let _ = USING.set(users);
    }
    // One that started the server and died before its watcher ran leaves none: adopt it.
    spawn_watcher(&runner, &base).map_err(io("start the watcher of", &base))?;
    drop(lock);
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// Waits (up to 60 s) until the cluster in `data` accepts connections, as `pg_ctl start
/// -w` does for the process that starts it: the server writes its state (`starting`,
/// `ready`) on the eighth line of `postmaster.pid`.
fn wait_until_ready(data: &Path) -> Result<(), ServerCallError> {
    let pid_file = data.join("postmaster.pid");
    let mut pacer = Pace::every(Duration::from_millis(20), Duration::from_secs(60)).start();
    loop {
        let state = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if state
            .lines()
            .nth(7)
            .is_some_and(|line| line.trim() == "ready")
        {
            return Ok(());
        }
        if !pacer.pause_blocking() {
            return Err(unavailable(format!(
                "the throwaway cluster in `{}` runs but has not been ready for 60 s",
                data.display()
            )));
        }
    }
}

/// The start of the directories `initdb` fills before they become `data`.
const SCRATCH_PREFIX: &str = "data.initdb-";

/// Removes what starters killed during `initdb` left.
fn remove_scratch(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(SCRATCH_PREFIX)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port().to_string())
}

/// A detached shell loop that stops the cluster and removes its data once no process
/// holds `users.lock` (checked under `lock`, so it never races with a process joining).
/// At most one runs: a second finds `watcher.lock` held and exits at once, so every
/// process may start one.
fn spawn_watcher(runner: &Runner, base: &Path) -> std::io::Result<()> {
    let script = stop_script(runner, base);
    let watcher = format!(
        "while sleep 2; do flock -x {} sh -c {} && exit 0; done",
        quote(&base.join("lock")),
        shell_word(&script)
    );
    // `--fork`: the watcher runs in a process of its own, not a child of this one, so
    // it is never left unreaped here (a zombie once it exits) and outlives this process
    // as it must; `setsid` itself returns at once and is waited for.
    Command::new("setsid")
        .arg("--fork")
        .arg("flock")
        .arg("-n")
        .arg(base.join("watcher.lock"))
        .args(["sh", "-c", &watcher])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .and_then(|status| {
            if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "`setsid --fork` exited with {status}"
                )))
            }
        })
}

/// Exits 0 once nobody uses the cluster and it is stopped and its data removed (about
/// 40 MB on the RAM disk, more with templates; the next user runs `initdb` again, 1-2 s);
/// 1 while someone uses it, or it would not stop.
fn stop_script(runner: &Runner, base: &Path) -> String {
    let (pg_ctl, data) = (runner.shell("pg_ctl"), quote(&base.join("data")));
    format!(
        "flock -n -x {users} true || exit 1; \
         {pg_ctl} status -D {data} >/dev/null 2>&1 && {pg_ctl} stop -D {data} -m fast -w >/dev/null 2>&1; \
         {pg_ctl} status -D {data} >/dev/null 2>&1 && exit 1; \
         rm -rf {data} {port} {log} {scratch}*; exit 0",
        users = quote(&base.join("users.lock")),
        port = quote(&base.join("port")),
        log = quote(&base.join("server.log")),
        scratch = quote(&base.join(SCRATCH_PREFIX)),
    )
}

fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Stops the cluster and removes its data if no process uses it (the sweep's part).
/// Returns whether it stopped one.
pub(crate) fn stop_if_unused() -> bool {
    let base = base_dir();
    if !base.join("data").exists() {
        return false;
    }
    let Ok(runner) = Runner::new() else {
        return false;
    };
    let script = stop_script(&runner, &base);
    Command::new("flock")
        .arg("-x")
        .arg(base.join("lock"))
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The admin URL of the cluster if it is running, without starting or joining it.
pub(crate) fn running_url() -> Result<String, ServerCallError> {
    let base = base_dir();
    let port = std::fs::read_to_string(base.join("port")).ok();
    match port {
        Some(port) if base.join("data").join("postmaster.pid").exists() => Ok(format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            port.trim()
        )),
        // Nothing to list or prune there: no advice about installing anything.
        _ => Err(ServerCallError::Unavailable(testbed::Unavailable::new(
            Backend::Postgres.name(),
            "the throwaway cluster is not running",
        ))),
    }
}
