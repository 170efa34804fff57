//! Saving results and reading them by atom and by provided name.

use std::collections::BTreeMap;

use flowstore::{Atom, Intention, Outcome, Provides, State, StorageError};
use serde_json::json;

use crate::support::{Db, TestResult, get_storage, object, reload};

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_tasks_states(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.ensure_atom(&Atom::task("my task2"))?;
    s.save("my task", json!("foo"))?;
    let expected = BTreeMap::from([
        ("my task".to_owned(), (State::Success, Intention::Execute)),
        ("my task2".to_owned(), (State::Pending, Intention::Execute)),
    ]);
    assert_eq!(s.get_atoms_states(["my task", "my task2"])?, expected);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_and_get(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save("my task", json!(5))?;
    assert_eq!(s.get("my task")?, Outcome::Value(json!(5)));
    assert!(s.fetch_all().is_empty());
    assert_eq!(s.get_atom_state("my task")?, State::Success);
    let resumed = reload(&db, &s)?;
    assert_eq!(resumed.get("my task")?, Outcome::Value(json!(5)));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_non_existing_var(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    let error = s.get("my task").unwrap_err();
    assert!(
        matches!(
            &error,
            StorageError::ResultNotAvailable {
                state: State::Pending,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.is_not_found());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn reset(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save("my task", json!(5))?;
    s.reset("my task")?;
    assert_eq!(s.get_atom_state("my task")?, State::Pending);
    assert!(s.get("my task").unwrap_err().is_not_found());
    let resumed = reload(&db, &s)?;
    assert!(resumed.get("my task").unwrap_err().is_not_found());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn reset_unknown_task(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    // Resetting an atom that never ran is a no-op that succeeds...
    s.reset("my task")?;
    assert_eq!(s.get_atom_state("my task")?, State::Pending);
    // ...and an atom that was never added is reported.
    let error = s.reset("not my task").unwrap_err();
    assert!(matches!(error, StorageError::UnknownAtom { .. }), "{error}");
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_by_name(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    let name = "my result";
    s.ensure_atom(&Atom::task("my task").with_provides(Provides::whole(name)))?;
    s.save("my task", json!(5))?;
    assert_eq!(s.fetch(name)?, json!(5));
    assert_eq!(s.fetch_all(), object(json!({name: 5})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_unknown_name(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    let error = s.fetch("xxx").unwrap_err();
    assert!(
        matches!(&error, StorageError::NotMapped { name } if name == "xxx"),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn fetch_result_not_ready(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    let name = "my result";
    s.ensure_atom(&Atom::task("my task").with_provides(Provides::whole(name)))?;
    assert!(s.get(name).unwrap_err().is_not_found());
    assert!(matches!(
        s.fetch(name),
        Err(StorageError::ResultNotFound { .. })
    ));
    assert!(s.fetch_all().is_empty());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_multiple_results(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task").with_provides(Provides::positions(["foo", "bar"])))?;
    s.save("my task", json!(["spam", "eggs"]))?;
    assert_eq!(s.fetch_all(), object(json!({"foo": "spam", "bar": "eggs"})));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn mapping_none(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save("my task", json!(5))?;
    assert!(s.fetch_all().is_empty());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn result_is_checked(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task").with_provides(Provides::keys(["result"])))?;
    s.save("my task", json!({}))?;
    let error = s.fetch("result").unwrap_err();
    assert!(
        matches!(&error, StorageError::ResultNotFound { name, .. } if name == "result"),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn empty_result_is_checked(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task").with_provides(Provides::positions(["a"])))?;
    s.save("my task", json!([]))?;
    let error = s.fetch("a").unwrap_err();
    assert!(
        matches!(&error, StorageError::ResultNotFound { name, .. } if name == "a"),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn short_result_is_checked(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task").with_provides(Provides::positions(["a", "b"])))?;
    s.save("my task", json!(["result"]))?;
    assert_eq!(s.fetch("a")?, json!("result"));
    let error = s.fetch("b").unwrap_err();
    assert!(
        matches!(&error, StorageError::ResultNotFound { name, .. } if name == "b"),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_fetch(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save("my task", json!(2))?;
    assert_eq!(s.get("my task")?, Outcome::Value(json!(2)));
    assert!(s.get_revert_result("my task").unwrap_err().is_not_found());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_fetch_revert(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.set_atom_intention("my task", Intention::Revert)?;
    s.save_with_state("my task", json!(2), State::Reverted)?;
    assert!(s.get("my task").unwrap_err().is_not_found());
    assert_eq!(s.get_revert_result("my task")?, Outcome::Value(json!(2)));
    assert_eq!(
        reload(&db, &s)?.get_revert_result("my task")?,
        Outcome::Value(json!(2))
    );
    Ok(())
}
