//! Under plain libtest, process-local resources are cleaned when the process exits.

use super::respawn;
use testbed::resources::Resource;
use testbed::{Outcome, Scope};

const MARKER_ENV: &str = "TESTBED_TEST_EXIT_MARKER";

static AT_EXIT: Resource<()> = Resource::new("at-exit", |_| Ok(())).with_clean(|_| {
    let marker = std::env::var(MARKER_ENV)?;
    std::fs::write(marker, "cleaned")?;
    Ok(())
});

#[test]
#[ignore = "helper: run by `is_cleaned_when_the_process_exits` in a child process"]
fn makes_a_resource_and_exits() {
    let scope = Scope::new("child");
    AT_EXIT.get(&scope).unwrap();
    scope.finish(Outcome::Passed).unwrap();
    assert!(
        std::fs::metadata(std::env::var(MARKER_ENV).unwrap()).is_err(),
        "kept while the process runs"
    );
}

#[test]
fn is_cleaned_when_the_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let child = respawn::spawn(
        "exit::makes_a_resource_and_exits",
        &[(MARKER_ENV, marker.to_str().unwrap())],
    );
    respawn::expect_success(child);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "cleaned");
}
