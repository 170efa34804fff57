//! Faults on servers of the test's own (never the shared ones): a PostgreSQL or a
//! MariaDB started on a spare port from the server programs, stopped and started again
//! mid-run, and removed whatever happens. The runs that meet the faults are child
//! processes of this binary, whose server URL is the private one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testbed::{Outcome, Scope};
use testbed_db::{Backend, DatabaseAcquireError, ServerCallError};

use crate::SHOP;

/// Where a child finds how to stop and start the private server.
const CONTROL_ENV: &str = "TESTBED_DB_FAULTS_SERVER";

/// A loose bound on how long a test may take to fail once its server is gone: the goal
/// is about a second (a refused connection fails at once, a pool waits half a second before asking); before the fix it was 30 s
/// per test.
const FAILS_WITHIN: Duration = Duration::from_secs(10);

/// A PostgreSQL server of one test, on a spare port; stopped and removed on drop.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Whether `dir` is a tmpfs of its own, unmounted on drop.
    mounted: bool,
}

impl PrivatePostgres {
    /// Initializes and starts one; skips the test (fails it under `TESTBED_REQUIRE`)
    /// where the server programs are not installed.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// The same, with `settings` (`name = value` lines) added to its configuration.
    pub fn start_with(settings: &[&str]) -> Self {
        Self::start_in(settings, None)
    }

    /// The same, its directory a tmpfs of `megabytes` of its own (a disk that fills).
    /// Mounting needs root: elsewhere the test is skipped.
    pub fn start_on_tmpfs(megabytes: u32) -> Self {
        if !is_root() {
            testbed::skip("root", "mounting a small tmpfs needs root");
        }
        Self::start_in(&[], Some(megabytes))
    }

    fn start_in(settings: &[&str], tmpfs_megabytes: Option<u32>) -> Self {
        let Some(bin) = server_programs() else {
            testbed::skip(
                "postgres",
                "the PostgreSQL server programs (initdb, pg_ctl) are not installed",
            );
        };
        let dir = tempfile::Builder::new()
            .prefix("testbed-db-faults-")
            .tempdir()
            .expect("a temporary directory");
        if let Some(megabytes) = tmpfs_megabytes {
            let status = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
                .arg(dir.path())
                .status()
                .expect("mount runs");
            assert!(
                status.success(),
                "mount a tmpfs on {}",
                dir.path().display()
            );
        }
        if is_root() {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown the server's directory to postgres");
        }
        let server = PrivatePostgres {
            bin,
            port: spare_port(),
            dir,
            mounted: tmpfs_megabytes.is_some(),
        };
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        let config = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&config).expect("initdb wrote a configuration");
        for setting in settings {
            text.push_str(setting);
            text.push('\n');
        }
        std::fs::write(&config, text).expect("the configuration is writable");
        server.start_again();
        server
    }

    /// The server's admin URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Asks a password of every role but `postgres` over TCP, from now on.
    pub fn require_passwords(&self) {
        let hba = "local all all trust\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host all all 127.0.0.1/32 scram-sha-256\n";
        std::fs::write(self.data().join("pg_hba.conf"), hba).expect("pg_hba.conf is writable");
        self.run("pg_ctl", &["-D", self.data().to_str().unwrap(), "reload"]);
    }

    /// What a child needs to stop and start this server ([`Control`]).
    pub fn control(&self) -> String {
        format!(
            "postgres|{}|{}|{}",
            self.bin.display(),
            self.dir.path().display(),
            self.port
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = command(&self.bin, program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the stopped server and waits until it accepts connections.
    pub fn start_again(&self) {
        control_start(&self.bin, self.dir.path(), self.port);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        control_stop(&self.bin, self.dir.path());
        if self.mounted {
            unmount(self.dir.path());
        }
    }
}

/// Unmounts the tmpfs at `dir`, waiting for the server's last processes to let go of
/// it (a backend may outlive `pg_ctl stop` by a moment), else detaching it, so that no
/// mount is left behind whatever happens.
fn unmount(dir: &Path) {
    for _ in 0..50 {
        let unmounted = Command::new("umount")
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if unmounted {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("umount").arg("-l").arg(dir).status();
}

fn command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    let mut command = if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    };
    command.stdin(std::process::Stdio::null());
    command
}

fn control_start(bin: &Path, dir: &Path, port: u16) {
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    let data = dir.join("data");
    let log = dir.join("log");
    let output = command(bin, "pg_ctl")
        .args(["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap()])
        .args(["-o", &options, "-w", "start"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pg_ctl start failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Stops the server at once, as a crash would (`-m immediate`: no clean shutdown).
fn control_stop(bin: &Path, dir: &Path) {
    let data = dir.join("data");
    let _ = command(bin, "pg_ctl")
        .args([
            "-D",
            data.to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ])
        .output();
}

/// Stops and starts, from a child, the server its parent made.
struct Control {
    kind: String,
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Control {
    fn from_env() -> Self {
        Self::from_text(&std::env::var(CONTROL_ENV).expect("the parent names the server"))
    }

    fn from_text(text: &str) -> Self {
        let mut parts = text.split('|');
        let (kind, bin, dir, port) = (parts.next(), parts.next(), parts.next(), parts.next());
        Control {
            kind: kind.unwrap().to_owned(),
            bin: PathBuf::from(bin.unwrap()),
            dir: PathBuf::from(dir.unwrap()),
            port: port.unwrap().parse().unwrap(),
        }
    }

    fn stop(&self) {
        match self.kind.as_str() {
            "postgres" => control_stop(&self.bin, &self.dir),
            _ => mariadb_kill(&self.dir),
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) every process of the server: it keeps
    /// its connections and accepts new ones, and answers nothing.
    /// Whether every process got the signal (one may have exited meanwhile).
    fn signal_all(&self, signal: &str) -> bool {
        let main = match self.kind.as_str() {
            "postgres" => self.dir.join("data").join("postmaster.pid"),
            _ => self.dir.join("pid"),
        };
        let main: u32 = std::fs::read_to_string(main)
            .expect("the server's pid file")
            .lines()
            .next()
            .and_then(|pid| pid.trim().parse().ok())
            .expect("a pid");
        let mut pids = vec![main];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let parent = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if parent == Some(main)
                && let Ok(pid) = entry.file_name().to_string_lossy().parse()
            {
                pids.push(pid);
            }
        }
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        Command::new("kill")
            .arg(format!("-{signal}"))
            .args(&pids)
            .status()
            .is_ok_and(|status| status.success())
    }

    fn start(&self) {
        match self.kind.as_str() {
            "postgres" => control_start(&self.bin, &self.dir, self.port),
            _ => mariadb_start(&self.dir, self.port),
        }
    }
}

/// A MariaDB server of one test, on a spare port; killed and removed on drop.
pub struct PrivateMariaDb {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivateMariaDb {
    /// Initializes and starts one; skips the test (fails it under `TESTBED_REQUIRE`)
    /// where the server programs are not installed.
    pub fn start() -> Self {
        if which("mariadb-install-db").is_none() || which("mariadbd").is_none() {
            testbed::skip(
                "mysql",
                "the MariaDB server programs (mariadb-install-db, mariadbd) are not installed",
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("testbed-db-faults-")
            .tempdir()
            .expect("a temporary directory");
        if is_root() {
            let status = Command::new("chown")
                .arg("mysql:")
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown the server's directory to mysql");
        }
        let data = dir.path().join("data");
        let output = Command::new(which("mariadb-install-db").unwrap())
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let server = PrivateMariaDb {
            port: spare_port(),
            dir,
        };
        mariadb_start(server.dir.path(), server.port);
        server
    }

    /// The server's admin URL.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// What a child needs to stop and start this server ([`Control`]).
    pub fn control(&self) -> String {
        format!("mysql||{}|{}", self.dir.path().display(), self.port)
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        mariadb_kill(self.dir.path());
        // Every server this process started on the directory, the ones a test killed
        // mid-run included (zombies until waited for).
        let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut *started)
            .into_iter()
            .partition(|(dir, _)| dir == self.dir.path());
        *started = others;
        drop(started);
        for (_, mut child) in mine {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `mariadbd` on `dir`'s data, detached, and waits until it accepts connections.
fn mariadb_start(dir: &Path, port: u16) {
    let data = dir.join("data");
    let mut command = Command::new(which("mariadbd").unwrap());
    command
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--log-error={}", dir.join("log").display()))
        .arg(format!("--port={port}"))
        .args(["--bind-address=127.0.0.1", "--skip-log-bin"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if is_root() {
        command.arg("--user=mysql");
    }
    let mut child = command.spawn().expect("mariadbd starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            panic!("mariadbd exited with {status}: {log}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "mariadbd did not listen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Found again by its pid file; killed and reaped when its `PrivateMariaDb` drops, so
    // no test leaves it running or unreaped.
    STARTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((dir.to_owned(), child));
}

/// The `mariadbd` processes this process started, by directory, not yet reaped.
static STARTED: Mutex<Vec<(PathBuf, Child)>> = Mutex::new(Vec::new());

/// Kills the `mariadbd` of `dir` with SIGKILL, as a crash would, and waits for it to go.
fn mariadb_kill(dir: &Path) {
    let Some(pid) = std::fs::read_to_string(dir.join("pid"))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
    else {
        return;
    };
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let started = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(dir.join("pid"));
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2))
        == Some("0")
}

fn server_programs() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).find(|dir| dir.join("pg_ctl").is_file())
    })
}

fn spare_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a spare port");
    listener.local_addr().unwrap().port()
}

fn assert_success(output: &Output) {
    // Shown with --nocapture: what the child met and how long each failure took.
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Within one process (`cargo test`): a server that dies while a test holds a database
/// fails that test's cleanup with the real cause, the next tests fail within
/// [`FAILS_WITHIN`] naming it, and once the server is back the same process uses it
/// again.
#[testbed::test]
fn a_postgres_server_lost_mid_run_fails_fast_then_is_used_again() {
    let server = PrivatePostgres::start();
    let output = crate::child::run(
        "child::child_loses_its_server",
        &[
            ("TESTBED_POSTGRES_URL", &server.url()),
            (CONTROL_ENV, &server.control()),
        ],
    );
    assert_success(&output);
}

/// The same on a MariaDB killed by SIGKILL mid-run and started again.
#[testbed::test]
fn a_mariadb_server_lost_mid_run_fails_fast_then_is_used_again() {
    let server = PrivateMariaDb::start();
    let output = crate::child::run(
        "child::child_loses_its_server",
        &[
            ("TESTBED_MYSQL_URL", &server.url()),
            (CONTROL_ENV, &server.control()),
        ],
    );
    assert_success(&output);
}

/// A PostgreSQL server frozen mid-run (every process stopped by SIGSTOP) fails the
/// tests that need it within seconds; thawed, it is used again.
#[testbed::test]
fn a_frozen_postgres_server_fails_tests_within_seconds() {
    let server = PrivatePostgres::start();
    let output = crate::child::run(
        "child::child_freezes_its_server",
        &[
            ("TESTBED_POSTGRES_URL", &server.url()),
            (CONTROL_ENV, &server.control()),
        ],
    );
    // Thawed whatever the child did, so the server can be stopped.
    let _ = Control::from_text(&server.control()).signal_all("CONT");
    assert_success(&output);
}

/// The same on a frozen MariaDB.
#[testbed::test]
fn a_frozen_mariadb_server_fails_tests_within_seconds() {
    let server = PrivateMariaDb::start();
    let output = crate::child::run(
        "child::child_freezes_its_server",
        &[
            ("TESTBED_MYSQL_URL", &server.url()),
            (CONTROL_ENV, &server.control()),
        ],
    );
    let _ = Control::from_text(&server.control()).signal_all("CONT");
    assert_success(&output);
}

/// A server at its `max_connections` fails a test that needs a connection within a
/// bounded wait, with an error naming the setting and `TESTBED_PG_MAX_KEPT_CONNECTIONS`
/// (before the fix: 30 s, then "pool timed out"); with room again, it is used again.
#[testbed::test]
fn a_full_postgres_server_is_named_within_seconds() {
    let server = PrivatePostgres::start_with(&["max_connections = 20"]);
    let output = crate::child::run(
        "child::child_fills_its_server",
        &[
            ("TESTBED_POSTGRES_URL", &server.url()),
            // Nothing kept: the next test needs new connections.
            ("TESTBED_PG_MAX_KEPT_CONNECTIONS", "0"),
        ],
    );
    assert_success(&output);
}

/// A full disk during a clone: the error says the disk is full and how to make room
/// (not, as before, to disconnect sessions from the template); with room again, clones
/// work. On a PostgreSQL whose data is on a small tmpfs of its own.
#[testbed::test]
fn a_full_disk_during_a_clone_says_so() {
    let server = PrivatePostgres::start_on_tmpfs(120);
    let output = crate::child::run(
        "child::child_fills_its_disk",
        &[
            ("TESTBED_POSTGRES_URL", &server.url()),
            (CONTROL_ENV, &server.control()),
        ],
    );
    assert_success(&output);
}

/// The child of [`a_full_disk_during_a_clone_says_so`].
pub async fn fill_the_disk() {
    let control = Control::from_env();
    let clone = || async {
        let scope = Scope::new("clone");
        let made = crate::SHOP_CLONES.try_postgres(&scope).await.map(drop);
        if made.is_ok() {
            scope.finish_async(Outcome::Passed).await.unwrap();
        }
        made
    };
    clone().await.expect("a clone, with room on the disk");
    // All but 3 MB taken by a file of its own: room for the server's log writes (a
    // disk with no room at all stops the server), not for a clone (about 8 MB).
    let df = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(&control.dir)
        .output()
        .unwrap();
    let available: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .and_then(|line| line.trim().parse().ok())
        .expect("df gives the free space");
    let filler = control.dir.join("filler");
    let status = Command::new("fallocate")
        .args(["-l", &(available.saturating_sub(3 << 20)).to_string()])
        .arg(&filler)
        .status()
        .unwrap();
    assert!(status.success(), "fill the disk");
    let error = clone().await.expect_err("the disk is full");
    let said = format!("{error:?}");
    assert!(said.contains("disk is full"), "{said}");
    assert!(!said.contains("disconnect"), "{said}");
    println!("full: {said}");
    std::fs::remove_file(&filler).unwrap();
    clone().await.expect("a clone, with room again");
}

/// A database testbed marked whose `DROP DATABASE` was cut off (PostgreSQL leaves it
/// invalid, `datconnlimit = -2`, as a SIGKILLed drop does; made here by setting it, on
/// a server of the test's own): a template in that state is rebuilt over, and `prune`
/// drops one as an orphan, instead of refusing or failing.
#[testbed::test]
fn a_template_left_invalid_by_a_cut_off_drop_is_rebuilt_and_pruned() {
    let server = PrivatePostgres::start();
    let output = crate::child::run(
        "child::child_meets_half_dropped_templates",
        &[("TESTBED_POSTGRES_URL", &server.url())],
    );
    assert_success(&output);
}

/// Makes `name` what a cut-off drop of a template leaves: marked, not a template
/// (the drop made it an ordinary database first), invalid.
async fn half_dropped(admin: &sqlx::PgPool, name: &str) {
    for sql in [
        format!(r#"create database "{name}""#),
        format!("comment on database \"{name}\" is 'testbed template\nfingerprint 0'"),
        format!("update pg_database set datconnlimit = -2 where datname = '{name}'"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(admin)
            .await
            .unwrap();
    }
}

/// The child of [`a_template_left_invalid_by_a_cut_off_drop_is_rebuilt_and_pruned`].
pub async fn meet_half_dropped_templates() {
    let url = std::env::var("TESTBED_POSTGRES_URL").unwrap();
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let template = SHOP.template_name(testbed_db::Backend::Postgres).unwrap();
    half_dropped(&admin, &template).await;
    use_one_database("postgres")
        .await
        .expect("the half-dropped template is rebuilt over");

    let other = "testbed_tpl_00000000dead0d0d";
    half_dropped(&admin, other).await;
    let held = testbed_db::admin::status(testbed_db::Backend::Postgres, None)
        .await
        .unwrap();
    let listed = held.iter().find(|held| held.name == other);
    assert!(
        listed.is_some_and(|held| held.kind == testbed_db::admin::HeldKind::Orphaned),
        "{held:?}"
    );
    testbed_db::admin::prune(testbed_db::Backend::Postgres, None, Default::default())
        .await
        .expect("prune drops it");
    let left: Option<String> =
        sqlx::query_scalar("select datname::text from pg_database where datname = $1")
            .bind(other)
            .fetch_optional(&admin)
            .await
            .unwrap();
    assert_eq!(left, None);
    println!("RESULT ok");
}

/// Across processes (`cargo nextest run`): a later process of the same run that finds
/// the server gone fails with the cause instead of skipping; a process of another run
/// skips, as for a server that was never there.
#[testbed::test]
fn a_postgres_server_lost_mid_run_fails_later_processes_of_the_run() {
    let server = PrivatePostgres::start();
    let records = tempfile::tempdir().unwrap();
    let records = records.path().to_str().unwrap();
    let url = server.url();
    let run = |run_id: &str| {
        crate::child::run(
            "child::child_acquires_once",
            &[
                ("TESTBED_POSTGRES_URL", &url),
                ("NEXTEST_RUN_ID", run_id),
                ("TESTBED_DIR", records),
            ],
        )
    };
    let said = |output: &Output| {
        assert_success(output);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout
            .lines()
            .find_map(|line| line.find("RESULT ").map(|at| line[at..].to_owned()))
            .unwrap_or_else(|| panic!("the child said nothing: {stdout}"))
    };
    assert_eq!(said(&run("run-1")), "RESULT acquired");
    control_stop(&server.bin, server.dir.path());
    let lost = said(&run("run-1"));
    assert!(
        lost.starts_with("RESULT error") && lost.contains("which answered earlier in this run"),
        "{lost}"
    );
    let other_run = said(&run("run-2"));
    assert!(other_run.starts_with("RESULT unavailable"), "{other_run}");
}

/// Acquires and releases one database; says how it went as `RESULT ...`.
pub async fn acquire_once() {
    let scope = Scope::new("child");
    let said = match acquire(&scope, "postgres").await {
        Ok(()) => match scope.finish_async(Outcome::Passed).await {
            Ok(()) => "acquired".to_owned(),
            Err(error) => format!("error at release: {error:?}"),
        },
        Err(DatabaseAcquireError::Unavailable(unavailable)) => {
            format!("unavailable: {unavailable}")
        }
        Err(error) => format!("error: {error}"),
    };
    println!("RESULT {said}");
}

/// The child of [`a_postgres_server_lost_mid_run_fails_fast_then_is_used_again`].
pub async fn lose_the_server() {
    let control = Control::from_env();
    // Reached: a database, used and handed back.
    let kind = control.kind.as_str();
    use_one_database(kind).await.expect("the server is up");

    // Lost while a test holds a database: its cleanup fails with the cause.
    let scope = Scope::new("holding");
    acquire(&scope, kind).await.expect("the server is up");
    control.stop();
    let started = Instant::now();
    let errors = scope
        .finish_async(Outcome::Failed)
        .await
        .expect_err("the release cannot reach the server");
    let said = format!("{errors:?}");
    assert!(
        said.contains("which answered earlier in this run"),
        "{said}"
    );
    assert!(started.elapsed() < FAILS_WITHIN, "{:?}", started.elapsed());
    println!("cleanup failed after {:?}: {said}", started.elapsed());

    // The next tests fail fast, naming the cause, and are not skipped.
    for attempt in 0..3 {
        let started = Instant::now();
        let error = use_one_database(kind)
            .await
            .expect_err("the server is gone");
        assert!(
            matches!(
                error,
                DatabaseAcquireError::Server(ServerCallError::Lost { .. })
            ),
            "attempt {attempt}: {error}"
        );
        let said = format!("{error:?}");
        assert!(said.contains("refused"), "{said}");
        assert!(started.elapsed() < FAILS_WITHIN, "{:?}", started.elapsed());
        println!(
            "test {attempt} failed after {:?}: {said}",
            started.elapsed()
        );
    }

    // Back: the same process uses it again (a new lease, new pools).
    control.start();
    let started = Instant::now();
    loop {
        match use_one_database(kind).await {
            Ok(()) => break,
            Err(error) if started.elapsed() < FAILS_WITHIN => {
                println!("not yet: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the server is back, yet: {error}"),
        }
    }
    use_one_database(kind).await.expect("and again");
}

/// A bound on how long a test waits on a frozen server before it fails: the goal is
/// 5-8 s (5 s of waiting, then 3 s for a connection to answer); before the fix a test
/// waited for ever.
const FROZEN_FAILS_WITHIN: Duration = Duration::from_secs(40);

/// The child of the frozen-server tests: a server that stops answering (SIGSTOP) fails
/// the tests that need it within seconds, naming it; thawed, it is used again.
pub async fn freeze_the_server() {
    let control = Control::from_env();
    let kind = control.kind.as_str();
    use_one_database(kind).await.expect("the server is up");
    assert!(control.signal_all("STOP"), "the server froze");
    for attempt in 0..2 {
        let started = Instant::now();
        let error = use_one_database(kind)
            .await
            .expect_err("the server is frozen");
        let said = format!("{error:?}");
        assert!(
            matches!(
                error,
                DatabaseAcquireError::Server(ServerCallError::Lost { .. })
            ),
            "attempt {attempt}: {said}"
        );
        assert!(said.contains("no answer"), "{said}");
        assert!(
            started.elapsed() < FROZEN_FAILS_WITHIN,
            "{:?}",
            started.elapsed()
        );
        println!(
            "test {attempt} failed after {:?}: {said}",
            started.elapsed()
        );
    }
    assert!(control.signal_all("CONT"), "the server thawed");
    let started = Instant::now();
    loop {
        match use_one_database(kind).await {
            Ok(()) => break,
            Err(error) if started.elapsed() < FROZEN_FAILS_WITHIN => {
                println!("not yet: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the server is thawed, yet: {error}"),
        }
    }
    println!("used again after {:?}", started.elapsed());
}

/// A bound on how long a test waits on a full server: the goal is the 5 s a test's pool
/// waits for a connection; before the fix it was 30 s.
const FULL_FAILS_WITHIN: Duration = Duration::from_secs(30);

/// The child of [`a_full_postgres_server_is_named_within_seconds`]: fills the server
/// with connections of its own, then asks for a database.
pub async fn fill_the_server() {
    use sqlx::Connection;
    let url = std::env::var("TESTBED_POSTGRES_URL").expect("the parent names the server");
    use_one_database("postgres")
        .await
        .expect("the server is up");
    let mut held = Vec::new();
    loop {
        match sqlx::PgConnection::connect(&url).await {
            Ok(conn) => held.push(conn),
            Err(error) if error.to_string().contains("too many") => break,
            Err(error) => panic!("filling the server: {error}"),
        }
        assert!(held.len() < 100, "the server never filled");
    }
    let started = Instant::now();
    let error = use_one_database("postgres")
        .await
        .expect_err("the server is full");
    let said = format!("{error:?}");
    assert!(
        said.contains("max_connections") && said.contains("TESTBED_PG_MAX_KEPT_CONNECTIONS"),
        "{said}"
    );
    assert!(
        started.elapsed() < FULL_FAILS_WITHIN,
        "{:?}",
        started.elapsed()
    );
    println!("failed after {:?}: {said}", started.elapsed());
    drop(held);
    let started = Instant::now();
    loop {
        match use_one_database("postgres").await {
            Ok(()) => break,
            Err(error) if started.elapsed() < FULL_FAILS_WITHIN => {
                println!("not yet: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the server has room again, yet: {error}"),
        }
    }
}

/// Acquires a database of `kind`'s server for `scope` and checks its seed rows.
async fn acquire(scope: &Scope, kind: &str) -> Result<(), DatabaseAcquireError> {
    let query = "select count(*) from users";
    let users: i64 = if kind == "postgres" {
        let db = SHOP.try_postgres(scope).await?;
        sqlx::query_scalar(query).fetch_one(db.pool()).await
    } else {
        let db = SHOP.try_mysql(scope).await?;
        sqlx::query_scalar(query).fetch_one(db.pool()).await
    }
    .expect("a query on a database just handed out");
    assert_eq!(users, 2);
    Ok(())
}

async fn use_one_database(kind: &str) -> Result<(), DatabaseAcquireError> {
    let scope = Scope::new("child test");
    acquire(&scope, kind).await?;
    scope
        .finish_async(Outcome::Passed)
        .await
        .map_err(|errors| panic!("release failed: {errors:?}"))
}

/// How many test processes start at once on a fresh server.
const AT_ONCE: usize = 6;

/// Starts [`AT_ONCE`] child processes at once on the fresh server at `url`, each
/// holding two databases of one schema of `backend`; checks that every one got them,
/// and that the schema's template was built once.
fn start_at_once(backend: Backend, url_env: &str, url: &str) {
    let children: Vec<Child> = (0..AT_ONCE)
        .map(|_| {
            crate::child::command(
                "child::child_holds_several_databases",
                &[
                    (url_env, url),
                    ("TESTBED_DB_HOLD", "2"),
                    ("TESTBED_DB_BACKEND", backend.name()),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the child test starts")
        })
        .collect();
    for child in children {
        assert_success(&child.wait_with_output().expect("the child test ends"));
    }
    let held = testbed_db::block_on(testbed_db::admin::status(backend, Some(url))).unwrap();
    let templates = held
        .iter()
        .filter(|held| held.kind == testbed_db::admin::HeldKind::Template)
        .count();
    assert_eq!(templates, 1, "one template, built once: {held:?}");
}

/// On a fresh PostgreSQL server, test processes starting at once all get their
/// databases: they race to create the registry and the template, and the template is
/// built once.
#[testbed::test]
fn processes_starting_at_once_on_a_fresh_postgres_server_all_get_databases() {
    let server = PrivatePostgres::start();
    start_at_once(Backend::Postgres, "TESTBED_POSTGRES_URL", &server.url());
}

/// The same on a fresh MariaDB, whose registry the first read that finds it missing
/// creates.
#[testbed::test]
fn processes_starting_at_once_on_a_fresh_mariadb_server_all_get_databases() {
    let server = PrivateMariaDb::start();
    start_at_once(Backend::MySql, "TESTBED_MYSQL_URL", &server.url());
}
