//! Made once and shared; reset when dirtied; replaced when dirtied while in use;
//! released when unused; a missing backend probed once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use testbed::resources::{AnyResource, Resource};
use testbed::{Outcome, Scope, Unavailable};

/// A value whose identity tells one instance from another.
#[derive(Debug)]
struct Counter {
    serial: u32,
    hits: AtomicU32,
}

static SERIALS: AtomicU32 = AtomicU32::new(0);

fn new_counter() -> Counter {
    Counter {
        serial: SERIALS.fetch_add(1, Ordering::SeqCst),
        hits: AtomicU32::new(0),
    }
}

static SHARED: Resource<Counter> = Resource::new("shared", |_| Ok(new_counter()));

#[test]
fn is_made_once_and_shared_by_every_user() {
    let (a, b) = (Scope::new("a"), Scope::new("b"));
    let first = SHARED.get(&a).unwrap();
    let second = SHARED.get(&b).unwrap();
    first.hits.fetch_add(1, Ordering::SeqCst);
    assert_eq!(second.hits.load(Ordering::SeqCst), 1);
    assert_eq!(first.serial, second.serial);
    drop((first, second));
    a.finish(Outcome::Passed).unwrap();
    b.finish(Outcome::Passed).unwrap();
    let later = Scope::new("later");
    let third = SHARED.get(&later).unwrap();
    assert_eq!(third.hits.load(Ordering::SeqCst), 1, "kept between tests");
    drop(third);
    later.finish(Outcome::Passed).unwrap();
    assert_eq!(SHARED.stats().makes, 1);
}

static RESETTABLE: Resource<Counter> = Resource::new("resettable", |_| Ok(new_counter()))
    .with_reset(|counter| {
        counter.hits.store(0, Ordering::SeqCst);
        Ok(())
    });

#[test]
fn a_dirtied_resource_is_reset_for_the_next_user() {
    let scope = Scope::new("dirties");
    let used = RESETTABLE.get(&scope).unwrap();
    used.hits.fetch_add(5, Ordering::SeqCst);
    used.dirtied();
    let serial = used.serial;
    drop(used);
    scope.finish(Outcome::Passed).unwrap();

    let scope = Scope::new("next");
    let next = RESETTABLE.get(&scope).unwrap();
    assert_eq!(next.hits.load(Ordering::SeqCst), 0);
    assert_eq!(next.serial, serial, "reset in place, not made again");
    drop(next);
    scope.finish(Outcome::Passed).unwrap();
    let stats = RESETTABLE.stats();
    assert_eq!((stats.makes, stats.resets), (1, 1));
}

static CLEANED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

static REMADE: Resource<Counter> =
    Resource::new("remade", |_| Ok(new_counter())).with_clean(|counter| {
        CLEANED.lock().unwrap().push(counter.serial);
        Ok(())
    });

#[test]
fn without_a_reset_hook_a_dirtied_resource_is_cleaned_and_made_again() {
    let scope = Scope::new("dirties");
    let used = REMADE.get(&scope).unwrap();
    let first = used.serial;
    used.dirtied();
    drop(used);
    scope.finish(Outcome::Passed).unwrap();

    let scope = Scope::new("next");
    let next = REMADE.get(&scope).unwrap();
    assert_ne!(next.serial, first);
    assert_eq!(*CLEANED.lock().unwrap(), [first]);
    drop(next);
    scope.finish(Outcome::Passed).unwrap();
    assert_eq!(REMADE.stats().makes, 2);
}

static REPLACED_CLEANS: AtomicU32 = AtomicU32::new(0);

static IN_USE: Resource<Counter> = Resource::new("in-use", |_| Ok(new_counter()))
    .with_reset(|_| panic!("never reset while another test uses it"))
    .with_clean(|_| {
        REPLACED_CLEANS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });

#[test]
fn a_resource_dirtied_while_in_use_is_replaced_and_the_old_one_cleaned_by_its_last_user() {
    let (holder, dirtier) = (Scope::new("holder"), Scope::new("dirtier"));
    let held = IN_USE.get(&holder).unwrap();
    let dirty = IN_USE.get(&dirtier).unwrap();
    dirty.dirtied();
    drop(dirty);
    dirtier.finish(Outcome::Passed).unwrap();

    let newcomer = Scope::new("newcomer");
    let fresh = IN_USE.get(&newcomer).unwrap();
    assert_ne!(
        fresh.serial, held.serial,
        "a fresh instance beside the one in use"
    );
    assert_eq!(REPLACED_CLEANS.load(Ordering::SeqCst), 0, "still in use");
    drop(held);
    holder.finish(Outcome::Passed).unwrap();
    assert_eq!(REPLACED_CLEANS.load(Ordering::SeqCst), 1);
    drop(fresh);
    newcomer.finish(Outcome::Passed).unwrap();
}

static RELEASED: AtomicU32 = AtomicU32::new(0);

static RELEASABLE: Resource<Counter> = Resource::new("releasable", |_| Ok(new_counter()))
    .with_clean(|_| {
        RELEASED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });

#[test]
fn is_cleaned_on_release_only_when_no_test_uses_it() {
    let scope = Scope::new("user");
    let used = RELEASABLE.get(&scope).unwrap();
    assert!(!RELEASABLE.release_if_unused().unwrap(), "in use");
    assert_eq!(RELEASED.load(Ordering::SeqCst), 0);
    drop(used);
    scope.finish(Outcome::Passed).unwrap();
    assert!(RELEASABLE.release_if_unused().unwrap());
    assert_eq!(RELEASED.load(Ordering::SeqCst), 1);
    assert!(!RELEASABLE.release_if_unused().unwrap(), "already cleaned");
    let stats = RELEASABLE.stats();
    assert_eq!((stats.makes, stats.cleans), (1, 1));
}

static MISSING: Resource<Counter> = Resource::new("missing", |_| {
    Err(Unavailable::new("missing-server", "nothing listens on 127.0.0.1:1").into())
});

#[test]
fn an_unavailable_resource_is_probed_once_and_skips_every_user() {
    for _ in 0..3 {
        let scope = Scope::new("user");
        let error = MISSING.get(&scope).unwrap_err();
        let unavailable = error.downcast_ref::<Unavailable>().expect("an Unavailable");
        assert_eq!(unavailable.requirement(), "missing-server");
        scope.finish(Outcome::Skipped).unwrap();
    }
    assert_eq!(MISSING.stats().makes, 1);
}

static FLAKY_MAKES: AtomicU32 = AtomicU32::new(0);

static FLAKY: Resource<u32> = Resource::new("flaky", |_| {
    match FLAKY_MAKES.fetch_add(1, Ordering::SeqCst) {
        0 => Err("first make fails".into()),
        n => Ok(n),
    }
});

#[test]
fn a_failed_make_is_retried_by_the_next_user() {
    let scope = Scope::new("first");
    let error = FLAKY.get(&scope).unwrap_err();
    assert!(error.to_string().contains("first make fails"));
    let second = FLAKY.get(&scope).unwrap();
    assert_eq!(*second, 1);
    drop(second);
    scope.finish(Outcome::Passed).unwrap();
}

static THREADED_MAKES: AtomicU32 = AtomicU32::new(0);

static THREADED: Resource<u32> = Resource::new("threaded", |_| {
    std::thread::sleep(std::time::Duration::from_millis(20));
    Ok(THREADED_MAKES.fetch_add(1, Ordering::SeqCst))
});

#[test]
fn concurrent_first_users_share_one_make() {
    let threads: Vec<_> = (0..8)
        .map(|n| {
            std::thread::spawn(move || {
                let scope = Scope::new(format!("thread-{n}"));
                let value = *THREADED.get(&scope).unwrap();
                scope.finish(Outcome::Passed).unwrap();
                value
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 0);
    }
    assert_eq!(THREADED_MAKES.load(Ordering::SeqCst), 1);
}

static FOR_A_TEST: Resource<Counter> = Resource::new("for-a-test", |_| Ok(new_counter()));

#[testbed::test]
fn a_testbed_test_releases_its_use_in_its_cleanup(scope: &Scope) {
    let used = FOR_A_TEST.get(scope).unwrap();
    assert!(
        !FOR_A_TEST.release_if_unused().unwrap(),
        "in use during the body"
    );
    drop(used);
    scope.add_cleanup(|_| {
        // Registered after the use, so it runs first: still in use here.
        assert!(!FOR_A_TEST.release_if_unused().unwrap());
    });
}

static MADE_BY_ASYNC_CODE: Resource<u32> = Resource::new("made-by-async-code", |_| {
    // A make function that needs async code starts a runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        tokio::task::yield_now().await;
        7
    }))
});

#[testbed::test]
async fn an_async_test_can_use_a_resource_made_by_async_code(scope: &Scope) {
    tokio::task::yield_now().await;
    assert_eq!(*MADE_BY_ASYNC_CODE.get(scope).unwrap(), 7);
}
