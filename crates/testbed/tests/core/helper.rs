//! Helper processes (`testbed::helper`): a test starts a registered role, which runs in
//! the test binary started again, instead of the test, in a process group of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use testbed::Scope;
use testbed::helper::{HelperStartError, start_detached};

/// The directory the starter and its helper write to; set by the parent test only.
const DIR_ENV: &str = "TESTBED_HELPER_TEST_DIR";

const ROLE: &str = "testbed-core-tests/marker";

/// The role: notes its process id and process group, and that it ran.
fn mark() {
    let dir = PathBuf::from(std::env::var_os(DIR_ENV).expect("the helper inherits the directory"));
    let group = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat.rsplit(") ").next().map(str::to_owned))
        .and_then(|fields| fields.split(' ').nth(2).map(str::to_owned))
        .unwrap_or_default();
    let line = format!("{} {group}", std::process::id());
    std::fs::write(dir.join("served.tmp"), line).unwrap();
    std::fs::rename(dir.join("served.tmp"), dir.join("served")).unwrap();
}

testbed::helper_role!("testbed-core-tests/marker", mark);

/// Appends this process's id to the starter's `bodies` file: each run of its body.
fn note_body(dir: &Path) {
    use std::io::Write;
    let mut bodies = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("bodies"))
        .unwrap();
    writeln!(bodies, "{}", std::process::id()).unwrap();
}

#[testbed::test]
#[ignore = "helper: run as a child process by `a_helper_runs_its_role_in_a_process_of_its_own`"]
fn starts_a_helper(scope: &Scope) {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    note_body(&dir);
    start_detached(ROLE, scope).expect("the helper starts");
}

#[testbed::test]
#[cfg(target_os = "linux")]
fn a_helper_runs_its_role_in_a_process_of_its_own(dir: testbed::TempDir) {
    let starter = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper::starts_a_helper",
            "--ignored",
            "--nocapture",
        ])
        .env(DIR_ENV, dir.path())
        .output()
        .unwrap();
    assert!(starter.status.success(), "{starter:?}");
    let served = dir.path().join("served");
    let waited = Instant::now();
    while !served.exists() && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let served = std::fs::read_to_string(&served).expect("the helper ran its role");
    let (helper, group) = served.split_once(' ').unwrap();
    let bodies = std::fs::read_to_string(dir.path().join("bodies")).unwrap();
    let bodies: Vec<&str> = bodies.lines().collect();
    assert_eq!(
        bodies.len(),
        1,
        "only the starter ran the test's body, not the helper: {bodies:?}"
    );
    assert_ne!(bodies[0], helper, "the helper is a process of its own");
    assert_eq!(group, helper, "the helper leads a process group of its own");
}

#[testbed::test]
fn an_unknown_role_is_refused(scope: &Scope) {
    let refused = start_detached("testbed-core-tests/none", scope).unwrap_err();
    assert!(
        matches!(refused, HelperStartError::NotRegistered(_)),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("testbed::helper_role!"),
        "{refused}"
    );
}

#[testbed::test]
fn a_scope_made_by_hand_cannot_start_a_helper() {
    let by_hand = Scope::new("by_hand");
    let refused = start_detached(ROLE, &by_hand).unwrap_err();
    assert!(
        matches!(refused, HelperStartError::NotRunnerTest(_)),
        "{refused}"
    );
    assert!(refused.to_string().contains("`by_hand`"), "{refused}");
}
