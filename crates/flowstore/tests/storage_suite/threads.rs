//! Many threads using one storage at once.

use std::thread;

use flowstore::Atom;
use serde_json::json;

use crate::support::{Db, TestResult, get_storage};

/// As many threads as the seed starts.
const THREAD_COUNT: usize = 50;

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn many_thread_ensure_same_task(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREAD_COUNT)
            .map(|_| scope.spawn(|| s.ensure_atom(&Atom::task("my_task"))))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("an ensuring thread panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    // Only one atom was made, no more; and only one was persisted.
    assert_eq!(s.flow_detail().len(), 1);
    assert_eq!(db.load_flow(&s.flow_uuid())?.len(), 1);
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn many_thread_inject(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREAD_COUNT)
            .map(|i| {
                let s = &s;
                scope.spawn(move || s.inject([(i.to_string(), json!(i.to_string()))]))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("an injecting thread panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    assert_eq!(s.fetch_all().len(), THREAD_COUNT);
    assert_eq!(s.flow_detail().len(), 1);
    // Every thread's value was persisted: none overwrote another's.
    let resumed = crate::support::reload(&db, &s)?;
    assert_eq!(resumed.fetch_all().len(), THREAD_COUNT);
    Ok(())
}
