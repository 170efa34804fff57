//! Tests run by the checks in child processes, never on their own (`#[ignore]`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use testbed::Scope;
use testbed::resources::Resource;
use testbed::scenarios::Scenario;

pub static ALPHA: Resource<()> = Resource::new("alpha", |_| Ok(()));
pub static BETA: Resource<()> = Resource::new("beta", |_| Ok(()));

/// Names alternate between the two resources, so the listed order switches every test.
mod interleaved {
    use super::*;

    #[testbed::test(resources(ALPHA))]
    #[ignore = "helper"]
    fn t1_alpha(scope: &Scope) {
        ALPHA.get(scope).unwrap();
    }

    #[testbed::test(resources(BETA))]
    #[ignore = "helper"]
    fn t2_beta(scope: &Scope) {
        BETA.get(scope).unwrap();
    }

    #[testbed::test(resources(ALPHA))]
    #[ignore = "helper"]
    fn t3_alpha(scope: &Scope) {
        ALPHA.get(scope).unwrap();
    }

    #[testbed::test(resources(BETA))]
    #[ignore = "helper"]
    fn t4_beta(scope: &Scope) {
        BETA.get(scope).unwrap();
    }

    #[testbed::test(resources(ALPHA))]
    #[ignore = "helper"]
    fn t5_alpha(scope: &Scope) {
        ALPHA.get(scope).unwrap();
    }

    #[testbed::test(resources(BETA))]
    #[ignore = "helper"]
    fn t6_beta(scope: &Scope) {
        BETA.get(scope).unwrap();
    }
}

/// Two tests that only pass if they run at the same time.
struct Rendezvous {
    arrived: Mutex<u32>,
    all_here: Condvar,
}

static MEETING: Resource<Rendezvous> = Resource::new("meeting", |_| {
    Ok(Rendezvous {
        arrived: Mutex::new(0),
        all_here: Condvar::new(),
    })
});

fn meet(scope: &Scope) {
    let meeting = MEETING.get(scope).unwrap();
    let mut arrived = meeting.arrived.lock().unwrap();
    *arrived += 1;
    meeting.all_here.notify_all();
    let (arrived, timeout) = meeting
        .all_here
        .wait_timeout_while(arrived, Duration::from_secs(10), |arrived| *arrived < 2)
        .unwrap();
    assert!(
        !timeout.timed_out(),
        "the other test never ran alongside: {}",
        *arrived
    );
}

#[testbed::test(resources(MEETING))]
#[ignore = "helper"]
fn parallel_one(scope: &Scope) {
    meet(scope);
}

#[testbed::test(resources(MEETING))]
#[ignore = "helper"]
fn parallel_two(scope: &Scope) {
    meet(scope);
}

/// A backend fixture whose `postgres` scenario is never reachable here.
struct Backend;

impl testbed::Fixture for Backend {
    fn setup(scope: &Scope) -> Result<Self, testbed::BoxError> {
        let scenario = Scenario::of(scope).expect("a scenario test");
        if scenario.is("postgres") {
            return Err(scenario
                .unavailable("nothing listens on 127.0.0.1:1")
                .into());
        }
        Ok(Backend)
    }
}

#[testbed::test(scenarios(memory, postgres))]
#[ignore = "helper"]
fn backend(_backend: Backend) {}

pub static COUNTER: Resource<AtomicU32> = Resource::new("counter", |_| Ok(AtomicU32::new(0)))
    .with_reset(|counter| {
        counter.store(0, Ordering::SeqCst);
        Ok(())
    });

#[testbed::test(resources(COUNTER))]
#[ignore = "helper"]
fn dirty_1_changes(scope: &Scope) {
    let counter = COUNTER.get(scope).unwrap();
    counter.fetch_add(1, Ordering::SeqCst);
    counter.dirtied();
}

#[testbed::test(resources(COUNTER))]
#[ignore = "helper"]
fn dirty_2_sees_a_reset_counter(scope: &Scope) {
    assert_eq!(COUNTER.get(scope).unwrap().load(Ordering::SeqCst), 0);
}

pub const MARKER_ENV: &str = "TESTBED_TEST_TEARDOWN_MARKER";

static MARKED: Resource<()> = Resource::new("marked", |_| Ok(())).with_clean(|_| {
    std::fs::write(std::env::var(MARKER_ENV)?, "cleaned")?;
    Ok(())
});

/// Two tests, so the run prints its summary.
mod marked {
    use super::*;

    #[testbed::test(resources(MARKED))]
    #[ignore = "helper"]
    fn uses_it(scope: &Scope) {
        MARKED.get(scope).unwrap();
    }

    #[testbed::test(resources(MARKED))]
    #[ignore = "helper"]
    fn uses_it_too(scope: &Scope) {
        MARKED.get(scope).unwrap();
    }
}

#[testbed::test]
#[ignore = "helper"]
#[should_panic(expected = "boom")]
fn panics_as_expected() {
    panic!("boom");
}

#[testbed::test]
#[ignore = "helper"]
fn fails() {
    panic!("this helper fails on purpose");
}

/// One test declares the resource it uses, the other does not.
mod undeclared {
    use super::*;

    #[testbed::test]
    #[ignore = "helper"]
    fn uses_alpha(scope: &Scope) {
        ALPHA.get(scope).unwrap();
    }

    #[testbed::test(resources(ALPHA))]
    #[ignore = "helper"]
    fn declares_alpha(scope: &Scope) {
        ALPHA.get(scope).unwrap();
    }
}

#[testbed::test(scenarios(memory, postgres), resources(BETA, postgres = [ALPHA]))]
#[ignore = "helper"]
fn per_scenario(scenario: Scenario, scope: &Scope) {
    BETA.get(scope).unwrap();
    if scenario.is("postgres") {
        ALPHA.get(scope).unwrap();
    }
}

/// Scenario tests that pass, fail and skip, and register summary sections.
mod summarised {
    use super::*;
    use testbed::harness::summary_section;

    static REGISTERED: AtomicU32 = AtomicU32::new(0);

    fn registrations() -> Option<String> {
        Some(format!(
            "{} registrations\nsecond line",
            REGISTERED.load(Ordering::SeqCst)
        ))
    }

    fn second_registration() -> Option<String> {
        Some("a second registration of a name replaced the first".to_owned())
    }

    fn nothing_to_say() -> Option<String> {
        None
    }

    fn register() {
        REGISTERED.fetch_add(1, Ordering::SeqCst);
        summary_section("helper section", registrations);
        summary_section("helper section", second_registration);
        summary_section("quiet section", nothing_to_say);
    }

    #[testbed::test(scenarios(memory, postgres))]
    #[ignore = "helper"]
    fn passes(_backend: Backend) {
        register();
    }

    #[testbed::test(scenarios(memory, postgres))]
    #[ignore = "helper"]
    fn fails_on_memory(_backend: Backend, scenario: Scenario) {
        register();
        panic!("fails on {scenario} on purpose");
    }

    /// The scenario is known whatever thread runs the body: a runtime's, a worker's.
    #[testbed::test(scenarios(memory, postgres), timeout = "60s")]
    #[ignore = "helper"]
    async fn passes_async(_backend: Backend) {}

    #[testbed::test(scenarios(memory, postgres), timeout = "60s")]
    #[ignore = "helper"]
    fn passes_in_time(_backend: Backend) {}

    #[testbed::test(scenarios(backend = [memory, postgres], format = [json, yaml]))]
    #[ignore = "helper"]
    fn round_trips(_backend: Backend) {}
}
