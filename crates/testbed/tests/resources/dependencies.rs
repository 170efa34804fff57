//! Dependencies are made first, kept while their dependents live, cleaned after them,
//! and resetting one makes its dependents dirty.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use testbed::resources::{AnyResource, Resource};
use testbed::{Outcome, Scope};

static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn event(what: &str) {
    EVENTS.lock().unwrap().push(what.to_owned());
}

static SERVER: Resource<String> = Resource::new("server", |_| {
    event("make server");
    Ok("server".to_owned())
})
.with_clean(|_| {
    event("clean server");
    Ok(())
});

static DATABASE: Resource<String> = Resource::new("database", |deps| {
    event("make database");
    Ok(format!("database on {}", deps.get(&SERVER)))
})
.depends_on(&[&SERVER])
.with_clean(|_| {
    event("clean database");
    Ok(())
});

#[test]
fn dependencies_are_made_first_and_cleaned_last() {
    let scope = Scope::new("user");
    assert_eq!(*DATABASE.get(&scope).unwrap(), "database on server");
    scope.finish(Outcome::Passed).unwrap();
    assert!(
        !SERVER.release_if_unused().unwrap(),
        "the database still uses the server"
    );
    assert!(DATABASE.release_if_unused().unwrap());
    assert!(SERVER.release_if_unused().unwrap());
    assert_eq!(
        *EVENTS.lock().unwrap(),
        [
            "make server",
            "make database",
            "clean database",
            "clean server"
        ]
    );
}

static BASE_MAKES: AtomicU32 = AtomicU32::new(0);
static DERIVED_MAKES: AtomicU32 = AtomicU32::new(0);

static BASE: Resource<u32> =
    Resource::new("base", |_| Ok(BASE_MAKES.fetch_add(1, Ordering::SeqCst))).with_reset(|_| Ok(()));

static DERIVED: Resource<u32> = Resource::new("derived", |deps| {
    DERIVED_MAKES.fetch_add(1, Ordering::SeqCst);
    Ok(*deps.get(&BASE) + 100)
})
.depends_on(&[&BASE]);

#[test]
fn resetting_a_dependency_makes_its_dependents_dirty() {
    let scope = Scope::new("first");
    assert_eq!(*DERIVED.get(&scope).unwrap(), 100);
    scope.finish(Outcome::Passed).unwrap();

    let scope = Scope::new("dirties the base");
    BASE.get(&scope).unwrap().dirtied();
    scope.finish(Outcome::Passed).unwrap();

    let scope = Scope::new("after");
    assert_eq!(*DERIVED.get(&scope).unwrap(), 100);
    scope.finish(Outcome::Passed).unwrap();
    assert_eq!(BASE.stats().resets, 1, "the base was reset in place");
    assert_eq!(BASE_MAKES.load(Ordering::SeqCst), 1);
    assert_eq!(
        DERIVED_MAKES.load(Ordering::SeqCst),
        2,
        "remade on the reset base"
    );

    let scope = Scope::new("clean again");
    let _ = DERIVED.get(&scope).unwrap();
    scope.finish(Outcome::Passed).unwrap();
    assert_eq!(DERIVED_MAKES.load(Ordering::SeqCst), 2, "clean: shared");
}

static UNDECLARED: Resource<u32> = Resource::new("undeclared", |deps| Ok(*deps.get(&BASE)));

#[test]
fn using_an_undeclared_dependency_fails_with_a_hint() {
    let scope = Scope::new("user");
    let error = UNDECLARED.get(&scope).unwrap_err().to_string();
    assert!(
        error.contains("not a declared dependency of `undeclared`") && error.contains("hint"),
        "{error}"
    );
    scope.finish(Outcome::Passed).unwrap();
}

#[test]
fn declared_dependencies_are_visible_for_planning() {
    let names: Vec<_> = DATABASE.dependencies().iter().map(|d| d.name()).collect();
    assert_eq!(names, ["server"]);
}
