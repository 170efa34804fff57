//! Failures: kept live while this storage lives, persisted as data, matched after reload.

use std::collections::BTreeMap;

use flowstore::{Atom, Intention, Outcome, State};

use crate::support::{Db, RuntimeError, TestResult, get_storage, reload, woot};

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_and_get_cached_failure(db: Db) -> TestResult {
    let a_failure = woot();
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save_with_state("my task", a_failure.clone(), State::Failure)?;
    assert_eq!(s.get("my task")?, Outcome::Failure(a_failure.clone()));
    assert_eq!(s.get_atom_state("my task")?, State::Failure);
    assert!(s.has_failures());
    assert_eq!(
        s.get_failures(),
        BTreeMap::from([("my task".to_owned(), a_failure)])
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_and_get_non_cached_failure(db: Db) -> TestResult {
    let a_failure = woot();
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save_with_state("my task", a_failure.clone(), State::Failure)?;
    assert_eq!(s.get("my task")?, Outcome::Failure(a_failure.clone()));
    s.clear_failure_cache();
    let Outcome::Failure(uncached) = s.get("my task")? else {
        panic!("a failed task gives its failure");
    };
    assert!(a_failure.matches(&uncached));
    assert_ne!(
        a_failure, uncached,
        "the uncached failure has no live error"
    );
    assert!(uncached.error().is_none());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_failure_from_reverted_task(db: Db) -> TestResult {
    let a_failure = woot();
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save_with_state("my task", a_failure.clone(), State::Failure)?;
    s.set_atom_state("my task", State::Reverting)?;
    assert_eq!(s.get("my task")?, Outcome::Failure(a_failure.clone()));
    s.set_atom_state("my task", State::Reverted)?;
    assert_eq!(s.get("my task")?, Outcome::Failure(a_failure));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_failure_after_reload(db: Db) -> TestResult {
    let a_failure = woot();
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.save_with_state("my task", a_failure.clone(), State::Failure)?;
    let s2 = reload(&db, &s)?;
    assert!(s2.has_failures());
    assert_eq!(s2.get_failures().len(), 1);
    let Outcome::Failure(reloaded) = s2.get("my task")? else {
        panic!("a failed task gives its failure after a reload");
    };
    assert!(a_failure.matches(&reloaded));
    assert!(reloaded.check::<RuntimeError>());
    assert_eq!(reloaded.message(), "Woot!");
    assert_eq!(s2.get_atom_state("my task")?, State::Failure);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_fail_fetch_revert(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.set_atom_intention("my task", Intention::Revert)?;
    let a_failure = woot();
    s.save_with_state("my task", a_failure.clone(), State::RevertFailure)?;
    assert_eq!(
        s.get_revert_result("my task")?,
        Outcome::Failure(a_failure.clone())
    );
    let Outcome::Failure(reloaded) = reload(&db, &s)?.get_revert_result("my task")? else {
        panic!("a task that failed to revert gives its revert failure after a reload");
    };
    assert!(a_failure.matches(&reloaded));
    Ok(())
}
