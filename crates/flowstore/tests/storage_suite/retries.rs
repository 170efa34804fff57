//! Retries: their history of attempts, its cleanup, and their own failures.

use std::collections::BTreeMap;

use flowstore::{Atom, Provides, RetryAttempt, State};
use serde_json::json;

use crate::support::{Db, RuntimeError, TestResult, get_storage, object, reload, woot};

fn attempts<const N: usize>(results: [&str; N]) -> Vec<RetryAttempt> {
    results
        .into_iter()
        .map(|result| RetryAttempt::new(json!(result)))
        .collect()
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn ensure_retry(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::retry("my retry"))?;
    let history = s.get_retry_history("my retry")?;
    assert!(history.attempts().is_empty());
    assert!(history.failure().is_none());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_retry_results(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::retry("my retry"))?;
    s.save("my retry", json!("a"))?;
    s.save("my retry", json!("b"))?;
    let history = s.get_retry_history("my retry")?;
    assert_eq!(history.attempts(), attempts(["a", "b"]));
    assert_eq!(
        history.provided().collect::<Vec<_>>(),
        [&json!("a"), &json!("b")]
    );
    assert_eq!(
        reload(&db, &s)?.get_retry_history("my retry")?.attempts(),
        attempts(["a", "b"])
    );
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn save_retry_results_with_mapping(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::retry("my retry").with_provides(Provides::whole("x")))?;
    s.save("my retry", json!("a"))?;
    s.save("my retry", json!("b"))?;
    let history = s.get_retry_history("my retry")?;
    assert_eq!(history.attempts(), attempts(["a", "b"]));
    assert_eq!(
        history.provided().collect::<Vec<_>>(),
        [&json!("a"), &json!("b")]
    );
    assert_eq!(s.fetch_all(), object(json!({"x": "b"})));
    assert_eq!(s.fetch("x")?, json!("b"));
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn cleanup_retry_history(db: Db) -> TestResult {
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::retry("my retry").with_provides(Provides::whole("x")))?;
    s.save("my retry", json!("a"))?;
    s.save("my retry", json!("b"))?;
    s.cleanup_retry_history("my retry", State::Reverted)?;
    let history = s.get_retry_history("my retry")?;
    assert!(history.attempts().is_empty());
    assert_eq!(history.len(), 0);
    assert!(s.fetch_all().is_empty());
    assert_eq!(s.get_atom_state("my retry")?, State::Reverted);
    assert!(reload(&db, &s)?.get_retry_history("my retry")?.is_empty());
    Ok(())
}

#[testbed::test(scenarios(memory, sqlite, postgres, mysql))]
fn cached_retry_failure(db: Db) -> TestResult {
    let a_failure = woot();
    let s = get_storage(&db)?;
    s.ensure_atom(&Atom::retry("my retry").with_provides(Provides::whole("x")))?;
    s.save("my retry", json!("a"))?;
    s.save_with_state("my retry", a_failure.clone(), State::Failure)?;
    let history = s.get_retry_history("my retry")?;
    assert_eq!(history.attempts(), attempts(["a"]));
    assert!(history.caused_by::<RuntimeError>(true));
    assert!(
        !history.caused_by::<RuntimeError>(false),
        "no attempt failed, only the retry"
    );
    assert!(history.failure().is_some());
    assert_eq!(history.len(), 1);
    assert!(s.has_failures());
    assert_eq!(
        s.get_failures(),
        BTreeMap::from([("my retry".to_owned(), a_failure)])
    );
    Ok(())
}
