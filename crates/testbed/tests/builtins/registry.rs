//! `Registry`: permanent names, test-only names and overrides removed or restored
//! afterwards, no accidental shadowing, one test per name at a time.

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use testbed::{Outcome, Registry, RegistryRegisterError, Scope};

use crate::support::run_panicking_test;

trait Backend: Send + Sync {
    fn name(&self) -> String;
}

struct Named(&'static str);

impl Backend for Named {
    fn name(&self) -> String {
        self.0.to_owned()
    }
}

fn backend(name: &'static str) -> Arc<dyn Backend> {
    Arc::new(Named(name))
}

#[test]
fn permanent_names_are_looked_up_and_listed() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    BACKENDS.register("memory", backend("memory")).unwrap();
    BACKENDS.register("disk", backend("disk")).unwrap();
    assert_eq!(BACKENDS.get("memory").unwrap().name(), "memory");
    assert!(BACKENDS.get("redis").is_none());
    assert_eq!(BACKENDS.names(), ["disk", "memory"]);
}

#[test]
fn registering_a_name_twice_is_an_error() {
    static CODECS: Registry<String> = Registry::new();
    CODECS.register("json", "v1".to_owned()).unwrap();
    let error = CODECS.register("json", "v2".to_owned()).unwrap_err();
    assert_eq!(
        error,
        RegistryRegisterError::AlreadyRegistered {
            name: "json".into()
        }
    );
    assert!(error.to_string().contains("`json`"));
    assert_eq!(*CODECS.get("json").unwrap(), "v1");
}

#[test]
fn a_test_only_name_is_removed_when_the_test_ends() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    BACKENDS.register("disk", backend("disk")).unwrap();
    let test = Scope::new("registry::test_only");
    BACKENDS
        .register_in(&test, "failing", backend("failing"))
        .unwrap();
    assert_eq!(BACKENDS.get("failing").unwrap().name(), "failing");
    assert_eq!(BACKENDS.names(), ["disk", "failing"]);
    test.finish(Outcome::Passed).unwrap();
    assert!(BACKENDS.get("failing").is_none());
    assert_eq!(BACKENDS.names(), ["disk"]);
}

#[test]
fn a_test_only_name_may_not_shadow_a_permanent_one() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    BACKENDS.register("disk", backend("disk")).unwrap();
    let test = Scope::new("registry::shadow");
    let error = BACKENDS
        .register_in(&test, "disk", backend("impostor"))
        .unwrap_err();
    assert!(matches!(error, RegistryRegisterError::WouldShadow { .. }));
    assert!(error.to_string().contains("override_in"), "{error}");
    assert_eq!(BACKENDS.get("disk").unwrap().name(), "disk");
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(BACKENDS.names(), ["disk"]);
}

#[test]
fn an_override_hides_the_permanent_value_for_the_test_only() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    BACKENDS.register("disk", backend("disk")).unwrap();
    let test = Scope::new("registry::override");
    BACKENDS.override_in(&test, "disk", backend("slow disk"));
    assert_eq!(BACKENDS.get("disk").unwrap().name(), "slow disk");
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(BACKENDS.get("disk").unwrap().name(), "disk");
}

#[test]
fn registrations_in_one_test_stack() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    let test = Scope::new("registry::stacked");
    BACKENDS
        .register_in(&test, "fake", backend("first"))
        .unwrap();
    let inner = test.child();
    BACKENDS
        .register_in(&inner, "fake", backend("second"))
        .unwrap();
    assert_eq!(BACKENDS.get("fake").unwrap().name(), "second");
    inner.finish(Outcome::Passed).unwrap();
    assert_eq!(BACKENDS.get("fake").unwrap().name(), "first");
    test.finish(Outcome::Passed).unwrap();
    assert!(BACKENDS.get("fake").is_none());
}

#[test]
fn test_entries_are_removed_after_a_panicking_body() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    BACKENDS.register("disk", backend("disk")).unwrap();
    let report = run_panicking_test("registry::panicking", |scope| {
        BACKENDS
            .register_in(scope, "fake", backend("fake"))
            .unwrap();
        BACKENDS.override_in(scope, "disk", backend("fake disk"));
    });
    assert!(report.contains("panicked on purpose"), "{report}");
    assert_eq!(BACKENDS.names(), ["disk"]);
    assert_eq!(BACKENDS.get("disk").unwrap().name(), "disk");
}

#[test]
fn tests_registering_the_same_name_do_not_interleave() {
    static BACKENDS: Registry<dyn Backend> = Registry::new();
    let first = Scope::new("registry::first");
    BACKENDS
        .register_in(&first, "fake", backend("first"))
        .unwrap();
    let (seen, seen_rx) = mpsc::channel();
    let second = thread::spawn(move || {
        let test = Scope::new("registry::second");
        BACKENDS
            .register_in(&test, "other", backend("other"))
            .unwrap();
        seen.send(BACKENDS.get("other").unwrap().name()).unwrap();
        BACKENDS
            .register_in(&test, "fake", backend("second"))
            .unwrap();
        seen.send(BACKENDS.get("fake").unwrap().name()).unwrap();
        test.finish(Outcome::Passed).unwrap();
    });
    // Another name is free at once; the same name waits for the first test.
    assert_eq!(
        seen_rx.recv_timeout(Duration::from_secs(60)).unwrap(),
        "other"
    );
    assert!(seen_rx.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(BACKENDS.get("fake").unwrap().name(), "first");
    first.finish(Outcome::Passed).unwrap();
    assert_eq!(
        seen_rx.recv_timeout(Duration::from_secs(60)).unwrap(),
        "second"
    );
    second.join().unwrap();
    assert!(BACKENDS.names().is_empty());
}
