//! One test per leak category, each leaving exactly that behind; then tests whose
//! leftovers must not be reported (finishing, allowed, ignored by a rule); and last
//! (`z_...`, libtest runs tests in name order) a test proving the leaks of the earlier
//! tests of this process were restored.

use std::time::Duration;

/// The variable `env` sets without `EnvVars`.
const LEAKED_VAR: &str = "FIXTURE_LEAKED_VAR";

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn env() {
    // SAFETY: this test binary runs this test alone (`--test-threads=1` or nextest); no
    // other thread reads the environment meanwhile.
    unsafe { std::env::set_var(LEAKED_VAR, "secret-value") };
}

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn cwd() {
    std::env::set_current_dir("/").unwrap();
}

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn threads() {
    std::thread::Builder::new()
        .name("fixture-leaker".into())
        .spawn(|| std::thread::sleep(Duration::from_secs(60)))
        .unwrap();
}

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn fds() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    std::mem::forget(listener);
    std::mem::forget(std::fs::File::open("Cargo.toml").unwrap());
}

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn children() {
    let child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::mem::forget(child);
}

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn temp_files() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // Tagged by the run, so each run removes only its own.
    let tag = std::env::var("FIXTURE_LEAK_TAG").unwrap_or_else(|_| "untagged".into());
    let name = format!("fixture-leaked-{tag}-{}-{nanos}", std::process::id());
    let path = std::env::temp_dir().join(name);
    assert!(!path.exists(), "`{}` exists already", path.display());
    std::fs::write(&path, "left behind").unwrap();
}

/// A value application code reads, which `overrides` overrides through a scope it never
/// finishes.
static RETRY_LIMIT: testbed::Global<u32> = testbed::Global::new(|| 3);

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn overrides() {
    let helper = testbed::Scope::new("fixture helper");
    RETRY_LIMIT.override_in(&helper, 0);
    std::mem::forget(helper);
}

/// Where `handles` keeps what it should have dropped.
static KEPT: std::sync::Mutex<Option<std::sync::Arc<()>>> = std::sync::Mutex::new(None);

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
fn handles(scope: &testbed::Scope) {
    let session = std::sync::Arc::new(());
    testbed::leaks::expect_dropped(scope, "a fixture session", &session);
    *KEPT.lock().unwrap() = Some(session);
}

#[testbed::test]
#[ignore = "leaks on purpose; run by testbed's core suite"]
async fn tasks() {
    tokio::spawn(std::future::pending::<()>());
}

/// A thread, a child and a task that all end within 50 ms of the test's end.
#[testbed::test]
#[ignore = "run by testbed's core suite"]
async fn finishing_not_reported() {
    std::thread::spawn(|| std::thread::sleep(Duration::from_millis(30)));
    let mut child = std::process::Command::new("sleep")
        .arg("0.03")
        .spawn()
        .unwrap();
    std::thread::spawn(move || child.wait());
    tokio::spawn(tokio::time::sleep(Duration::from_millis(30)));
}

#[testbed::test(allow_leaks(threads, children))]
#[ignore = "run by testbed's core suite"]
fn allowed() {
    std::thread::Builder::new()
        .name("fixture-allowed".into())
        .spawn(|| std::thread::sleep(Duration::from_secs(60)))
        .unwrap();
    // Without the test's output pipes, which nextest would wait for.
    let child = std::process::Command::new("sleep")
        .arg("31")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::mem::forget(child);
}

/// One of each kind of rule, each declared where the long-lived thing starts.
#[testbed::test]
#[ignore = "run by testbed's core suite"]
fn ignored_by_rule() {
    testbed::leaks::ignore_threads_named("fixture-known-pool");
    std::thread::Builder::new()
        .name("fixture-known-pool-1".into())
        .spawn(|| std::thread::sleep(Duration::from_secs(60)))
        .unwrap();
    // An unnamed thread and a listening socket no name or path could match.
    let listener = testbed::leaks::long_lived(|| {
        std::thread::spawn(|| std::thread::sleep(Duration::from_secs(60)));
        std::net::TcpListener::bind("127.0.0.1:0").unwrap()
    });
    // A connection to a server declared long-lived (as a pool's would be).
    testbed::leaks::ignore_connections_to(listener.local_addr().unwrap());
    std::mem::forget(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
    std::mem::forget(listener);
    let kept = std::env::current_dir().unwrap().join("src/lib.rs");
    testbed::leaks::ignore_paths_under(&kept);
    std::mem::forget(std::fs::File::open(&kept).unwrap());
    testbed::leaks::ignore_env_vars("FIXTURE_KNOWN_");
    // SAFETY: this test binary runs this test alone (`--test-threads=1` or nextest); no
    // other thread reads the environment meanwhile.
    unsafe { std::env::set_var("FIXTURE_KNOWN_CACHE", "warm") };
}

/// Runs after the leaking tests in the same process (`--test-threads=1`): what they
/// changed was put back, the child they left was killed and reaped.
#[testbed::test]
#[ignore = "run by testbed's core suite"]
fn z_restored() {
    assert_eq!(
        std::env::var_os(LEAKED_VAR),
        None,
        "the variable is still set"
    );
    assert_eq!(*RETRY_LIMIT.get(), 3, "the override is still in effect");
    let here = std::env::current_dir().unwrap();
    assert!(
        here.join("Cargo.toml").is_file(),
        "still in `{}`",
        here.display()
    );
    let mut running = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let list =
            std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
        for pid in list.split_whitespace() {
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            running.push(String::from_utf8_lossy(&command).replace('\0', " "));
        }
    }
    assert!(
        !running.iter().any(|command| command.trim() == "sleep 30"),
        "the leaked child still runs: {running:?}"
    );
    println!("z_restored: environment, directory, overrides and children are as before");
}
