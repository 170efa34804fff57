//! Adding atoms, finding them by name, their states and intentions.

use flowstore::{Atom, AtomDetail, AtomKind, Intention, State, Storage, StorageError};

use crate::support::{
    Db, TestResult, get_storage, get_storage_for, is_uuid_like, reload, temporary_flow_detail,
};

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn non_saving_storage(db: Db) -> TestResult {
    let flow = temporary_flow_detail(&db)?;
    let storage = Storage::new(flow.clone());
    storage.ensure_atom(&Atom::task("my_task"))?;
    assert!(is_uuid_like(&storage.get_atom_uuid("my_task")?));
    // Nothing reached the backend: it still has the flow as it was saved.
    assert!(db.load_flow(&flow.uuid)?.is_empty());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn ensure_task(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    assert_eq!(s.get_atom_state("my task")?, State::Pending);
    assert!(is_uuid_like(&s.get_atom_uuid("my task")?));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn ensure_task_flow_detail(db: Db) -> TestResult {
    let flow = temporary_flow_detail(&db)?;
    let s = get_storage_for(&db, flow.clone())?;
    s.ensure_atom(&Atom::task("my task").with_version("3.11"))?;
    let uuid = s.get_atom_uuid("my task")?;
    for stored in [s.flow_detail(), db.load_flow(&flow.uuid)?] {
        let atom = stored.find(&uuid).expect("the ensured atom is in the flow");
        assert_eq!(atom.name, "my task");
        assert_eq!(atom.version, "3.11");
        assert_eq!(atom.state, State::Pending);
    }
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_without_save(db: Db) -> TestResult {
    let mut flow = temporary_flow_detail(&db)?;
    flow.add(AtomDetail::new("my_task", "42", AtomKind::Task));
    let s = get_storage_for(&db, flow)?;
    assert_eq!(s.get_atom_uuid("my_task")?, "42");
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn ensure_existing_task(db: Db) -> TestResult {
    let mut flow = temporary_flow_detail(&db)?;
    flow.add(AtomDetail::new("my_task", "42", AtomKind::Task));
    let s = get_storage_for(&db, flow)?;
    s.ensure_atom(&Atom::task("my_task"))?;
    assert_eq!(s.get_atom_uuid("my_task")?, "42");
    assert_eq!(s.flow_detail().len(), 1);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn set_and_get_task_state(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.set_atom_state("my task", State::Running)?;
    assert_eq!(s.get_atom_state("my task")?, State::Running);
    s.set_atom_state("my task", State::Pending)?;
    assert_eq!(s.get_atom_state("my task")?, State::Pending);
    assert_eq!(reload(&db, &s)?.get_atom_state("my task")?, State::Pending);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn get_state_of_unknown_task(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    let error = s.get_atom_state("my task").unwrap_err();
    assert!(
        matches!(&error, StorageError::UnknownAtom { name } if name == "my task"),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn task_by_name(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    assert!(is_uuid_like(&s.get_atom_uuid("my task")?));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn unknown_task_by_name(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    let error = s.get_atom_uuid("42").unwrap_err();
    assert!(
        matches!(&error, StorageError::UnknownAtom { name } if name == "42"),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn ensure_retry_and_task_with_same_name(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my retry"))?;
    let error = s.ensure_atom(&Atom::retry("my retry")).unwrap_err();
    assert!(
        matches!(
            &error,
            StorageError::Duplicate { name, existing: AtomKind::Task, requested: AtomKind::Retry }
                if name == "my retry"
        ),
        "{error}"
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn logbook_get_unknown_atom_type(_db: Db) -> TestResult {
    let error = "some_detail".parse::<AtomKind>().unwrap_err();
    assert_eq!(error.what(), "atom kind");
    assert!(error.to_string().contains("`some_detail`"), "{error}");
    assert_eq!("task".parse::<AtomKind>().ok(), Some(AtomKind::Task));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_task_intention(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my task"))?;
    s.set_atom_intention("my task", Intention::Revert)?;
    assert_eq!(s.get_atom_intention("my task")?, Intention::Revert);
    assert_eq!(
        reload(&db, &s)?.get_atom_intention("my task")?,
        Intention::Revert
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_retry_intention(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::task("my retry"))?;
    s.set_atom_intention("my retry", Intention::Retry)?;
    assert_eq!(s.get_atom_intention("my retry")?, Intention::Retry);
    Ok(())
}
