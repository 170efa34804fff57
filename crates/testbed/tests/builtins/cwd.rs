//! `CurrentDir`: the current directory restored after the test, panics included.

use std::path::PathBuf;

use testbed::{CurrentDir, EnvLock, Fixture, Outcome, Scope, TempDir};

use crate::support::run_panicking_test;

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap()
}

// Each test checks the directory inside an outer scope that still holds the lock: once
// the lock is released another test may change it.

#[test]
fn is_restored_after_a_pass() {
    let test = Scope::new("cwd::pass");
    let _lock = EnvLock::new(&test);
    let original = cwd();
    let inner = test.child();
    let dir = TempDir::setup(&inner).unwrap();
    let current = CurrentDir::new(&inner).unwrap();
    assert_eq!(current.original(), original);
    current.change_to(dir.path()).unwrap();
    assert_eq!(cwd(), dir.path().canonicalize().unwrap());
    inner.finish(Outcome::Passed).unwrap();
    assert_eq!(cwd(), original);
    test.finish(Outcome::Passed).unwrap();
}

#[test]
fn is_restored_after_a_panicking_body() {
    let mut before = None;
    let report = run_panicking_test("cwd::panicking", |scope| {
        let _lock = EnvLock::new(scope);
        // This test fails on purpose: a directory kept for it would stay behind.
        let dir = TempDir::builder()
            .keep(testbed::KeepTemp::Never)
            .setup(scope)
            .unwrap();
        let current = CurrentDir::new(scope).unwrap();
        before = Some(current.original().to_owned());
        current.change_to(dir.path()).unwrap();
    });
    assert!(report.contains("panicked on purpose"), "{report}");
    // The lock is released: hold it again to read the directory other tests may change.
    let test = Scope::new("cwd::panicking::check");
    let _lock = EnvLock::new(&test);
    let current = CurrentDir::new(&test).unwrap();
    assert_eq!(Some(current.original().to_owned()), before);
    test.finish(Outcome::Passed).unwrap();
}

#[test]
fn is_restored_after_a_change_made_without_the_fixture() {
    let test = Scope::new("cwd::direct_change");
    let _lock = EnvLock::new(&test);
    let original = cwd();
    let inner = test.child();
    let dir = TempDir::setup(&inner).unwrap();
    let _current = CurrentDir::new(&inner).unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    inner.finish(Outcome::Passed).unwrap();
    assert_eq!(cwd(), original);
    test.finish(Outcome::Passed).unwrap();
}

#[test]
fn changing_to_a_missing_directory_names_it() {
    let test = Scope::new("cwd::missing");
    let _lock = EnvLock::new(&test);
    let dir = TempDir::setup(&test).unwrap();
    let current = CurrentDir::new(&test).unwrap();
    let missing = dir.path().join("missing");
    let message = current.change_to(&missing).unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "change the current directory to `{}`",
            missing.display()
        )),
        "{message}"
    );
    assert_eq!(cwd(), current.original());
    test.finish(Outcome::Passed).unwrap();
}

#[test]
fn a_removed_original_directory_is_a_cleanup_error() {
    let test = Scope::new("cwd::removed_original");
    let _lock = EnvLock::new(&test);
    let original = cwd();
    let middle = test.child();
    let outer = CurrentDir::new(&middle).unwrap();
    let started_in = TempDir::setup(&middle).unwrap();
    let elsewhere = TempDir::setup(&middle).unwrap();
    outer.change_to(started_in.path()).unwrap();
    let inner = middle.child();
    let current = CurrentDir::new(&inner).unwrap();
    current.change_to(elsewhere.path()).unwrap();
    std::fs::remove_dir(started_in.path()).unwrap();
    let report = inner.finish(Outcome::Passed).unwrap_err().to_string();
    middle.finish(Outcome::Passed).unwrap();
    assert_eq!(cwd(), original);
    test.finish(Outcome::Passed).unwrap();
    assert!(
        report.contains("restore the current directory to `"),
        "{report}"
    );
    assert!(report.contains("hint"), "{report}");
}
