//! Persistent resources: built once per key across processes, rebuilt after a failed or
//! crashed build, swept when stale.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::respawn;
use testbed::resources::Persistent;

const ROOT_ENV: &str = "TESTBED_TEST_PERSISTENT_ROOT";

/// Appends one line per build: the count survives every process.
fn record_build(root: &Path) -> std::io::Result<()> {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("builds.log"))?;
    writeln!(log, "built by {}", std::process::id())
}

fn builds(root: &Path) -> usize {
    std::fs::read_to_string(root.join("builds.log"))
        .map(|log| log.lines().count())
        .unwrap_or(0)
}

#[test]
fn is_built_once_and_found_afterwards() {
    let root = tempfile::tempdir().unwrap();
    let schema = Persistent::new("schema").in_dir(root.path());
    let build = |dir: &Path| {
        record_build(root.path())?;
        std::fs::write(dir.join("schema.sql"), "create table t (id int);")?;
        Ok(())
    };
    let first = schema.ensure("v1", build).unwrap();
    assert!(first.built_here());
    let second = schema.ensure("v1", build).unwrap();
    assert!(!second.built_here());
    assert_eq!(first.path(), second.path());
    assert!(second.path().join("schema.sql").is_file());
    assert_eq!(builds(root.path()), 1);
}

#[test]
fn a_failed_build_is_started_again_from_scratch() {
    let root = tempfile::tempdir().unwrap();
    let artifact = Persistent::new("artifact").in_dir(root.path());
    let error = artifact
        .ensure("k", |dir| {
            std::fs::write(dir.join("half"), "")?;
            Err("compiler crashed".into())
        })
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("build persistent resource `artifact`")
    );
    let hold = artifact
        .ensure("k", |dir| Ok(std::fs::write(dir.join("whole"), "")?))
        .unwrap();
    assert!(hold.built_here());
    assert!(
        !hold.path().join("half").exists(),
        "the half-built files are gone"
    );
    assert!(hold.path().join("whole").exists());
}

#[test]
fn rejects_a_key_that_is_not_a_plain_name() {
    let root = tempfile::tempdir().unwrap();
    let artifact = Persistent::new("artifact").in_dir(root.path());
    let error = artifact.ensure("../up", |_| Ok(())).unwrap_err();
    assert!(error.to_string().contains("hint"), "{error}");
}

#[test]
fn a_sweep_keeps_the_most_recent_keys_and_those_in_use() {
    let root = tempfile::tempdir().unwrap();
    let name_root = root.path().join("template");
    // Four earlier keys, built by "other processes" (other Persistent values, so this
    // process's one-sweep-per-name does not run until the end).
    for (age, key) in ["old-1", "old-2", "old-3", "old-4"].iter().enumerate() {
        let other = Persistent::new("template").in_dir(root.path());
        drop(other.ensure(key, |_| Ok(())).unwrap());
        let marker = name_root.join(format!("{key}.complete"));
        let used = std::time::SystemTime::now() - Duration::from_secs(60 * (10 - age as u64));
        std::fs::File::options()
            .write(true)
            .open(marker)
            .unwrap()
            .set_modified(used)
            .unwrap();
    }
    // `old-1`, the least recently used, is still in use by "another process".
    let in_use = std::fs::File::open(name_root.join("old-1.lock")).unwrap();
    fs4::FileExt::lock_shared(&in_use).unwrap();

    let template = Persistent::new("template").in_dir(root.path()).keep(2);
    let _current = template.ensure("current", |_| Ok(())).unwrap();
    let mut left: Vec<_> = std::fs::read_dir(&name_root)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".complete").map(str::to_owned)
        })
        .collect();
    left.sort();
    assert_eq!(left, ["current", "old-1", "old-4"]);
    assert!(!name_root.join("old-2").exists() && !name_root.join("old-2.lock").exists());
}

#[test]
fn a_sweep_removes_keys_unused_for_longer_than_the_age_limit() {
    let root = tempfile::tempdir().unwrap();
    let other = Persistent::new("cache").in_dir(root.path());
    drop(other.ensure("stale", |_| Ok(())).unwrap());
    std::thread::sleep(Duration::from_millis(50));
    let cache = Persistent::new("cache")
        .in_dir(root.path())
        .max_age(Duration::from_millis(10));
    let _current = cache.ensure("fresh", |_| Ok(())).unwrap();
    assert!(!root.path().join("cache/stale").exists());
    assert!(root.path().join("cache/fresh").exists());
}

#[test]
fn a_half_built_key_is_swept_at_once_and_a_kept_one_is_listed() {
    let root = tempfile::tempdir().unwrap();
    let cache = Persistent::new("cache").in_dir(root.path());
    // The first ensure of a process sweeps: this one is before the failure.
    let kept = cache.ensure("kept", |_| Ok(())).unwrap();
    let failed = cache.ensure("failed", |_| Err("the build failed".into()));
    assert!(failed.is_err());
    let listed: Vec<_> = cache
        .entries()
        .into_iter()
        .map(|entry| (entry.key, entry.complete, entry.in_use))
        .collect();
    assert!(
        listed.contains(&("failed".to_owned(), false, false)),
        "{listed:?}"
    );
    assert!(
        listed.contains(&("kept".to_owned(), true, true)),
        "{listed:?}"
    );
    // Well within `keep`, but half built and no one's: swept; the held one stays.
    assert_eq!(cache.sweep(), ["failed"]);
    assert!(!root.path().join("cache/failed").exists());
    assert!(!root.path().join("cache/failed.lock").exists());
    assert!(!cache.remove_unused("kept"), "in use");
    drop(kept);
    assert!(cache.remove_unused("kept"));
    assert!(cache.entries().is_empty());
}

#[test]
#[ignore = "helper: run by `racing_processes_build_it_exactly_once` in child processes"]
fn races_to_build() {
    let root = std::env::var(ROOT_ENV).expect("run by the race test");
    let root = Path::new(&root);
    let hold = Persistent::new("raced")
        .in_dir(root)
        .ensure("key", |dir| {
            record_build(root)?;
            // Long enough for every racer to be waiting on the lock.
            std::thread::sleep(Duration::from_millis(300));
            std::fs::write(dir.join("artifact"), "made")?;
            Ok(())
        })
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(hold.path().join("artifact")).unwrap(),
        "made"
    );
}

#[test]
fn racing_processes_build_it_exactly_once() {
    let root = tempfile::tempdir().unwrap();
    let root_env = root.path().to_str().unwrap();
    let racers: Vec<_> = (0..6)
        .map(|_| respawn::spawn("persistent::races_to_build", &[(ROOT_ENV, root_env)]))
        .collect();
    for racer in racers {
        respawn::expect_success(racer);
    }
    assert_eq!(builds(root.path()), 1);
}

#[test]
#[ignore = "helper: run by `a_build_cut_short_by_a_crash_is_rebuilt` in a child process"]
fn crashes_while_building() {
    let root = std::env::var(ROOT_ENV).expect("run by the crash test");
    let _ = Persistent::new("crashed")
        .in_dir(&root)
        .ensure("key", |dir| {
            std::fs::write(dir.join("half"), "")?;
            std::process::abort()
        });
}

#[test]
fn a_build_cut_short_by_a_crash_is_rebuilt() {
    let root = tempfile::tempdir().unwrap();
    let child = respawn::spawn(
        "persistent::crashes_while_building",
        &[(ROOT_ENV, root.path().to_str().unwrap())],
    );
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "the child was meant to crash");
    assert!(root.path().join("crashed/key/half").exists());
    let hold = Persistent::new("crashed")
        .in_dir(root.path())
        .ensure("key", |dir| Ok(std::fs::write(dir.join("whole"), "")?))
        .unwrap();
    assert!(hold.built_here());
    assert!(!hold.path().join("half").exists());
}
