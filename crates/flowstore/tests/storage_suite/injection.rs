//! Values injected into the flow or into one atom, persistent or transient, and the
//! arguments fetched through them.

use std::collections::BTreeSet;

use flowstore::{Atom, StorageError};
use serde_json::json;

use crate::support::{
    Db, TestResult, args, get_storage, get_storage_for, object, reload, temporary_flow_detail,
};

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn inject(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar")), ("spam", json!("eggs"))])?;
    assert_eq!(s.fetch("spam")?, json!("eggs"));
    assert_eq!(s.fetch_all(), object(json!({"foo": "bar", "spam": "eggs"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn inject_twice(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar"))])?;
    assert_eq!(s.fetch_all(), object(json!({"foo": "bar"})));
    s.inject([("spam", json!("eggs"))])?;
    assert_eq!(s.fetch_all(), object(json!({"foo": "bar", "spam": "eggs"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn inject_resumed(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar")), ("spam", json!("eggs"))])?;
    assert_eq!(s.fetch_all(), object(json!({"foo": "bar", "spam": "eggs"})));
    // As an engine resuming the flow: a new storage from the persisted flow.
    let s2 = reload(&db, &s)?;
    assert_eq!(
        s2.fetch_all(),
        object(json!({"foo": "bar", "spam": "eggs"}))
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_mapped_args(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar")), ("spam", json!("eggs"))])?;
    let fetched = s.fetch_mapped_args(&args([("viking", "spam")]), None, &[])?;
    assert_eq!(fetched, object(json!({"viking": "eggs"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_not_found_args(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar")), ("spam", json!("eggs"))])?;
    let error = s
        .fetch_mapped_args(&args([("viking", "helmet")]), None, &[])
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::ArgumentNotFound { argument, name } if argument == "viking" && name == "helmet"),
        "{error}"
    );
    assert!(error.is_not_found());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_optional_args_found(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar")), ("spam", json!("eggs"))])?;
    let fetched = s.fetch_mapped_args(&args([("viking", "spam")]), None, &["viking"])?;
    assert_eq!(fetched, object(json!({"viking": "eggs"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_optional_args_not_found(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject([("foo", json!("bar")), ("spam", json!("eggs"))])?;
    let fetched = s.fetch_mapped_args(&args([("viking", "helmet")]), None, &["viking"])?;
    assert!(fetched.is_empty());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn transient_storage_fetch_all(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject_transient([("a", json!("b"))]);
    s.inject([("b", json!("c"))])?;
    assert_eq!(s.fetch_all(), object(json!({"a": "b", "b": "c"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn transient_storage_fetch_mapped(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.inject_transient([("a", json!("b"))]);
    s.inject([("b", json!("c"))])?;
    let fetched = s.fetch_mapped_args(&args([("y", "a"), ("z", "b")]), None, &[])?;
    assert_eq!(fetched, object(json!({"y": "b", "z": "c"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn transient_storage_restore(db: Db) -> TestResult {
    let flow = temporary_flow_detail(&db)?;
    let s = get_storage_for(&db, flow)?;
    s.inject_transient([("a", json!("b"))]);
    s.inject([("b", json!("c"))])?;
    let s2 = reload(&db, &s)?;
    assert_eq!(s2.fetch_all(), object(json!({"b": "c"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn inject_persistent_missing(db: Db) -> TestResult {
    let t = Atom::task("my retry").with_requires(["x"]);
    let s = get_storage(&db)?;
    s.ensure_atom(&t)?;
    let missing = s.fetch_unsatisfied_args(t.name(), t.rebind(), &[])?;
    assert_eq!(missing, BTreeSet::from(["x".to_owned()]));
    s.inject_atom_args(t.name(), [("x", json!(2))])?;
    assert!(
        s.fetch_unsatisfied_args(t.name(), t.rebind(), &[])?
            .is_empty()
    );
    let fetched = s.fetch_mapped_args(t.rebind(), Some(t.name()), &[])?;
    assert_eq!(fetched["x"], json!(2));
    // Persistent atom arguments survive a reload.
    let resumed = reload(&db, &s)?;
    assert_eq!(
        resumed.fetch_mapped_args(t.rebind(), Some(t.name()), &[])?["x"],
        json!(2)
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn inject_persistent_and_transient_missing(db: Db) -> TestResult {
    let t = Atom::task("my retry").with_requires(["x"]);
    let s = get_storage(&db)?;
    s.ensure_atom(&t)?;
    let missing = s.fetch_unsatisfied_args(t.name(), t.rebind(), &[])?;
    assert_eq!(missing, BTreeSet::from(["x".to_owned()]));
    s.inject_atom_args(t.name(), [("x", json!(2))])?;
    s.inject_atom_args_transient(t.name(), [("x", json!(3))])?;
    assert!(
        s.fetch_unsatisfied_args(t.name(), t.rebind(), &[])?
            .is_empty()
    );
    let fetched = s.fetch_mapped_args(t.rebind(), Some(t.name()), &[])?;
    assert_eq!(fetched["x"], json!(3));
    // The transient value is gone after a reload; the persistent one is back.
    let resumed = reload(&db, &s)?;
    assert_eq!(
        resumed.fetch_mapped_args(t.rebind(), Some(t.name()), &[])?["x"],
        json!(2)
    );
    Ok(())
}
