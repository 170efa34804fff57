//! Task progress and its details, kept in the atom's metadata.

use flowstore::{Atom, ProgressDetails};
use serde_json::{Map, json};

use crate::support::{Db, TestResult, get_storage, object, reload};

fn details_at(at_progress: f64, details: serde_json::Value) -> Option<ProgressDetails> {
    Some(ProgressDetails {
        at_progress,
        details: object(details),
    })
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn task_metadata_update_with_none(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.update_atom_metadata("my task", Map::new())?;
    assert_eq!(s.get_task_progress("my task")?, 0.0);
    s.set_task_progress("my task", 0.5, None)?;
    assert_eq!(s.get_task_progress("my task")?, 0.5);
    s.update_atom_metadata("my task", Map::new())?;
    assert_eq!(s.get_task_progress("my task")?, 0.5);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn default_task_progress(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    assert_eq!(s.get_task_progress("my task")?, 0.0);
    assert_eq!(s.get_task_progress_details("my task")?, None);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn task_progress(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;

    s.set_task_progress("my task", 0.5, Some(object(json!({"test_data": 11}))))?;
    assert_eq!(s.get_task_progress("my task")?, 0.5);
    assert_eq!(
        s.get_task_progress_details("my task")?,
        details_at(0.5, json!({"test_data": 11}))
    );

    s.set_task_progress("my task", 0.7, Some(object(json!({"test_data": 17}))))?;
    assert_eq!(s.get_task_progress("my task")?, 0.7);
    assert_eq!(
        s.get_task_progress_details("my task")?,
        details_at(0.7, json!({"test_data": 17}))
    );

    s.set_task_progress("my task", 0.99, None)?;
    assert_eq!(s.get_task_progress("my task")?, 0.99);
    assert_eq!(
        s.get_task_progress_details("my task")?,
        details_at(0.7, json!({"test_data": 17}))
    );

    let resumed = reload(&db, &s)?;
    assert_eq!(resumed.get_task_progress("my task")?, 0.99);
    assert_eq!(
        resumed.get_task_progress_details("my task")?,
        details_at(0.7, json!({"test_data": 17}))
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn task_progress_erase(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.set_task_progress("my task", 0.4, Some(object(json!({"test_data": 4}))))?;
    s.set_task_progress("my task", 0.8, Some(Map::new()))?;
    assert_eq!(s.get_task_progress("my task")?, 0.8);
    assert_eq!(s.get_task_progress_details("my task")?, None);
    Ok(())
}
