//! Throwaway PostgreSQL clusters (`initdb` and `pg_ctl` on a spare port): served while
//! used, stopped and removed when not, even after the process that started one was
//! killed.

use crate::child;

/// Whether PostgreSQL's server programs are installed (on the PATH or Debian's place).
fn server_programs_installed() -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("initdb").is_file()));
    let debian = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .flatten()
            .any(|version| version.path().join("bin/initdb").is_file())
    });
    on_path || debian
}

#[testbed::test]
async fn a_throwaway_cluster_serves_and_stops_when_unused() {
    if !server_programs_installed() {
        testbed::skip(
            "postgres",
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed",
        );
    }
    let _alone = cluster_tests_alone();
    let output = child::run(
        "child::child_uses_the_throwaway_cluster",
        &[("TESTBED_POSTGRES_URL", "cluster")],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("URL ").map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| panic!("no URL printed: {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let url = url::Url::parse(words[0]).unwrap();
    let port = url.port().unwrap();
    assert_ne!(port, 5432, "a cluster of its own, not the local server");
    assert_eq!(words[2], "off", "tuned for tests: fsync off");
    if std::path::Path::new("/dev/shm").is_dir() {
        assert!(
            words[4].starts_with("/dev/shm/"),
            "data on the RAM disk: {}",
            words[4]
        );
    }
    assert_eq!(words[6], "2", "the schema and seeds are there");
    // The child was its only user: the watcher stops it within a few seconds.
    let stopped = async {
        for _ in 0..60 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        false
    };
    assert!(
        stopped.await,
        "the throwaway cluster on port {port} still runs with no user"
    );
    assert!(
        removed(std::path::Path::new(words[4])).await,
        "its data `{}` is still there",
        words[4]
    );
}

/// The cluster tests share the one throwaway cluster: one at a time, across processes
/// too (nextest), so that each sees the cluster stop when its own children are done.
fn cluster_tests_alone() -> std::fs::File {
    let path = std::env::temp_dir().join("testbed-db-cluster-tests.lock");
    let file = std::fs::File::create(&path).unwrap();
    file.lock().unwrap();
    file
}

/// Waits (up to 30 s) for `path` to be gone.
async fn removed(path: &std::path::Path) -> bool {
    for _ in 0..60 {
        if !path.exists() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    false
}

/// Where the throwaway cluster of this user lives (as testbed-db places it).
fn cluster_base() -> std::path::PathBuf {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2))
        .unwrap()
        .to_owned();
    let shm = std::path::Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    parent.join(format!("testbed-postgres-{euid}"))
}

#[testbed::test(timeout = "180s")]
async fn a_cluster_whose_starter_was_killed_is_adopted_then_stopped_and_removed() {
    if !server_programs_installed() {
        testbed::skip(
            "postgres",
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed",
        );
    }
    let _alone = cluster_tests_alone();
    let data = cluster_base().join("data");
    // No cluster runs (the other cluster test waits for its own to stop): this child
    // starts one, and dies by SIGKILL as soon as the server process exists, while
    // `pg_ctl start` still waits for it.
    let mut starter = child::spawn(
        "child::child_uses_the_throwaway_cluster",
        &[("TESTBED_POSTGRES_URL", "cluster")],
    );
    let pid_file = data.join("postmaster.pid");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !pid_file.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    starter.kill().unwrap();
    let killed = starter.wait().unwrap();
    assert!(
        pid_file.exists(),
        "the starter never started a server: {killed:?}"
    );
    // The next run finds the server (or starts one) and is served.
    let output = child::run(
        "child::child_uses_the_throwaway_cluster",
        &[("TESTBED_POSTGRES_URL", "cluster")],
    );
    assert!(
        output.status.success(),
        "the next run was not served: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Nobody uses it now: stopped and removed, whoever started it.
    assert!(
        removed(&data).await,
        "the cluster's data `{}` is still there",
        data.display()
    );
}
