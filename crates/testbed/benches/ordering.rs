//! How much the harness's resource-aware ordering saves: one suite of 200 tests over 4
//! resource sets, listed in a shuffled order, run with the harness's planned order and
//! with the listed order, side by side in one process (2 test threads each).
//!
//! Resources cost what their kind typically costs on a small machine (a started server
//! tens of milliseconds, a migrated template a few tens more), modelled by sleeping, so
//! the wall ratio reflects make counts rather than this machine's speed. The last line is
//! `resource makes: ordered <N>, listed <M>; wall ratio listed/ordered: <R>`.

use std::time::Duration;

use testbed::__private::harness::{
    Arguments, FormatSetting, Order, RunReport, Trial, run, summary,
};
use testbed::Scope;
use testbed::resources::{AnyResource, Resource};

/// Stands for a make or clean that takes `millis`.
fn costs(millis: u64) -> Result<(), testbed::BoxError> {
    std::thread::sleep(Duration::from_millis(millis));
    Ok(())
}

static SERVER: Resource<()> = Resource::new("server", |_| costs(40)).with_clean(|_| costs(10));
static TEMPLATE: Resource<()> = Resource::new("template", |_| costs(25))
    .depends_on(&[&SERVER])
    .with_clean(|_| costs(5));
static CACHE: Resource<()> = Resource::new("cache", |_| costs(30)).with_clean(|_| costs(5));
static SEEDED: Resource<()> = Resource::new("seeded", |_| costs(15))
    .depends_on(&[&CACHE])
    .with_clean(|_| costs(5));

const TESTS: usize = 200;

/// The four resource sets the suite's tests use (a dependency comes with its dependent).
static SETS: [&[&Resource<()>]; 4] = [&[&SERVER], &[&TEMPLATE], &[&CACHE], &[&SEEDED]];

/// A small deterministic shuffle (xorshift), so every run lists the same order.
fn shuffled(mut items: Vec<usize>) -> Vec<usize> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for index in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(index, (state % (index as u64 + 1)) as usize);
    }
    items
}

fn suite() -> Vec<Trial> {
    let sets = &SETS;
    shuffled((0..TESTS).collect())
        .into_iter()
        .enumerate()
        .map(|(listed, test)| {
            let set = sets[test % sets.len()];
            let dyn_set: Vec<&'static dyn AnyResource> =
                set.iter().map(|r| *r as &'static dyn AnyResource).collect();
            Trial::new(
                format!("t{listed:03}_set{}", test % sets.len()),
                move || {
                    let scope = Scope::new("bench");
                    for resource in set {
                        resource.get(&scope).expect("a bench resource");
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    scope
                        .finish(testbed::Outcome::Passed)
                        .expect("no cleanup fails");
                },
            )
            .with_resources(&dyn_set)
        })
        .collect()
}

fn run_in(order: Order) -> RunReport {
    let args = Arguments {
        test_threads: Some(2),
        format: Some(FormatSetting::Terse),
        ..Arguments::default()
    };
    let report = run(&args, suite(), order);
    assert!(!report.conclusion.has_failed(), "the bench suite must pass");
    print!("{}", summary(&report));
    println!("{order:?}: {:.3}s wall\n", report.wall.as_secs_f64());
    report
}

fn main() {
    let ordered = run_in(Order::Planned);
    let listed = run_in(Order::Listed);
    println!(
        "resource makes: ordered {}, listed {}; wall ratio listed/ordered: {:.2}",
        ordered.makes(),
        listed.makes(),
        listed.wall.as_secs_f64() / ordered.wall.as_secs_f64()
    );
}
