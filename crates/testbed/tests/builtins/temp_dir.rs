//! `TempDir`: removed after a pass or a skip, kept and reported after a failure.

use testbed::{
    Detail, EnvLock, EnvVars, Fixture, KEEP_TEMP_ENV, KeepTemp, Outcome, Scope, TempDir,
    TempDirSetupError,
};

/// A scope holding the process lock, so no test changes `TESTBED_KEEP_TEMP` meanwhile.
fn locked_scope(name: &str) -> Scope {
    let scope = Scope::new(name);
    let _lock = EnvLock::new(&scope);
    scope
}

fn kept_path_detail(scope: &Scope) -> Option<String> {
    scope
        .details()
        .snapshot()
        .into_iter()
        .find(|(name, _)| name == "temp_dir")
        .map(|(_, detail)| match detail {
            Detail::Text(text) => text,
            Detail::Bytes(bytes) => String::from_utf8(bytes).unwrap(),
        })
}

#[test]
fn is_removed_when_the_test_passes() {
    let scope = locked_scope("temp_dir::passes");
    let dir = TempDir::setup(&scope).unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    assert!(dir.path().is_dir());
    scope.finish(Outcome::Passed).unwrap();
    assert!(!dir.path().exists());
    assert_eq!(kept_path_detail(&scope), None);
}

#[test]
fn is_removed_when_the_test_is_skipped() {
    let scope = locked_scope("temp_dir::skipped");
    let dir = TempDir::setup(&scope).unwrap();
    scope.finish(Outcome::Skipped).unwrap();
    assert!(!dir.path().exists());
}

#[test]
fn is_kept_and_reported_when_the_test_fails() {
    let scope = locked_scope("temp_dir::fails");
    let dir = TempDir::setup(&scope).unwrap();
    std::fs::write(dir.path().join("evidence"), "x").unwrap();
    scope.finish(Outcome::Failed).unwrap();
    let kept = dir.path().join("evidence");
    let still_there = kept.is_file();
    let detail = kept_path_detail(&scope);
    std::fs::remove_dir_all(dir.path()).unwrap();
    assert!(still_there);
    assert_eq!(detail.as_deref(), Some(dir.path().to_str().unwrap()));
}

#[test]
fn never_policy_removes_even_after_a_failure() {
    let scope = locked_scope("temp_dir::never");
    let dir = TempDir::builder()
        .keep_on_failure(false)
        .setup(&scope)
        .unwrap();
    scope.finish(Outcome::Panicked).unwrap();
    assert!(!dir.path().exists());
}

#[test]
fn always_policy_keeps_after_a_pass() {
    let scope = locked_scope("temp_dir::always");
    let dir = TempDir::builder()
        .keep(KeepTemp::Always)
        .setup(&scope)
        .unwrap();
    scope.finish(Outcome::Passed).unwrap();
    let still_there = dir.path().is_dir();
    std::fs::remove_dir_all(dir.path()).unwrap();
    assert!(still_there);
    assert!(kept_path_detail(&scope).is_some());
}

#[test]
fn each_test_gets_a_fresh_directory_named_after_it() {
    let scope = locked_scope("module::fresh_dirs");
    let first = TempDir::setup(&scope).unwrap();
    let second = TempDir::setup(&scope).unwrap();
    assert_ne!(first.path(), second.path());
    assert_eq!(std::fs::read_dir(first.path()).unwrap().count(), 0);
    let name = first.path().file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("testbed-fresh_dirs-"), "{name}");
    scope.finish(Outcome::Passed).unwrap();
}

#[test]
fn prefix_and_parent_are_configurable() {
    let scope = locked_scope("temp_dir::configured");
    let parent = TempDir::setup(&scope).unwrap();
    let dir = TempDir::builder()
        .prefix("uploads-")
        .in_dir(parent.path())
        .setup(&scope)
        .unwrap();
    assert_eq!(dir.path().parent(), Some(parent.path()));
    let name = dir.path().file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("uploads-"), "{name}");
    scope.finish(Outcome::Passed).unwrap();
    assert!(!parent.path().exists());
}

#[test]
fn creating_in_a_missing_parent_is_a_setup_error() {
    let scope = locked_scope("temp_dir::missing_parent");
    let parent = TempDir::setup(&scope).unwrap();
    let missing = parent.path().join("missing");
    let error = TempDir::builder()
        .in_dir(&missing)
        .setup(&scope)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("create a temporary directory in `"),
        "{message}"
    );
    assert!(message.contains(missing.to_str().unwrap()), "{message}");
    scope.finish(Outcome::Passed).unwrap();
}

#[test]
fn keep_policies_parse_and_bad_values_name_the_fix() {
    assert_eq!("never".parse::<KeepTemp>().unwrap(), KeepTemp::Never);
    assert_eq!(
        "on-failure".parse::<KeepTemp>().unwrap(),
        KeepTemp::OnFailure
    );
    assert_eq!("always".parse::<KeepTemp>().unwrap(), KeepTemp::Always);
    let message = "sometimes".parse::<KeepTemp>().unwrap_err().to_string();
    assert!(message.contains("`sometimes`"), "{message}");
    assert!(message.contains("hint"), "{message}");
}

#[testbed::test]
fn works_as_a_test_argument(_lock: EnvLock, dir: TempDir) -> std::io::Result<()> {
    std::fs::write(dir.path().join("a.txt"), "hello")?;
    assert_eq!(std::fs::read_to_string(dir.path().join("a.txt"))?, "hello");
    Ok(())
}

#[test]
fn a_directory_the_test_removed_is_not_an_error() {
    let scope = locked_scope("temp_dir::removed_by_test");
    let dir = TempDir::setup(&scope).unwrap();
    std::fs::remove_dir(dir.path()).unwrap();
    scope.finish(Outcome::Passed).unwrap();
}

#[test]
fn a_removal_failure_is_a_cleanup_error() {
    let scope = locked_scope("temp_dir::unremovable");
    let dir = TempDir::setup(&scope).unwrap();
    // A file where the directory was cannot be removed as a directory.
    std::fs::remove_dir(dir.path()).unwrap();
    std::fs::write(dir.path(), "not a directory").unwrap();
    let report = scope.finish(Outcome::Passed).unwrap_err().to_string();
    std::fs::remove_file(dir.path()).unwrap();
    assert!(report.contains("remove temporary directory `"), "{report}");
    assert!(report.contains(dir.path().to_str().unwrap()), "{report}");
}

#[test]
fn the_environment_overrides_the_configured_policy() {
    let test = Scope::new("temp_dir::env_override");
    let env = EnvVars::new(&test);
    env.set(KEEP_TEMP_ENV, "never");
    let inner = test.child();
    let dir = TempDir::builder()
        .keep(KeepTemp::Always)
        .setup(&inner)
        .unwrap();
    inner.finish(Outcome::Failed).unwrap();
    assert!(!dir.path().exists());

    env.set(KEEP_TEMP_ENV, "sometimes");
    let error = TempDir::builder().setup(&test).unwrap_err();
    assert!(matches!(error, TempDirSetupError::KeepPolicy(_)));
    assert!(error.to_string().contains(KEEP_TEMP_ENV), "{error}");
    test.finish(Outcome::Passed).unwrap();
}
