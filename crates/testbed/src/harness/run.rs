//! Running a suite: plan the order, hand the tests to libtest-mimic (which parses and
//! honours libtest's command line), release resources as the plan allows, tear down at
//! the end and summarise what each resource cost.

use std::sync::Arc;
use std::time::Instant;

use libtest_mimic::Arguments;

use super::outcomes::TestRecord;
use super::plan::{self, ResourceSet};
use super::registration::RegisteredTest;
use super::report::{ResourceCost, RunReport};
use super::schedule::Schedule;
use super::sections::render_sections;
use super::summary::{clean_errors, summary};
use super::trial::{Trial, execute};
use crate::resources::registry::{live_resources, teardown_all};
use crate::resources::{AnyResource, ResourceStats, capture_usage};

/// The order tests run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Grouped by resource set, groups ordered to make each resource as few times as
    /// possible (the default).
    Planned,
    /// As listed (registration order), for comparison.
    Listed,
}

/// The entry point of a `harness = false` test target:
///
/// ```no_run
/// fn main() {
///     testbed::harness::main()
/// }
/// ```
///
/// Runs every `#[testbed::test]` of the target with libtest's command line, in planned
/// order (`TESTBED_ORDER=listed` keeps registration order), prints the
/// [`summary`] on stderr after libtest's own `test result:` line (which stays on stdout,
/// untouched, for whatever parses it) and exits with libtest's codes. The summary is
/// printed only when more than one test ran: under `cargo nextest run` every test is a
/// process of its own, and a summary of one test would be repeated for each. Failed
/// resource cleans are printed whatever the count, since they fail the run.
#[allow(clippy::needless_doctest_main)] // the example is a whole test target
pub fn main() -> ! {
    // A helper process runs its role before the run is planned (the runner would too).
    crate::helper::take_over_if_asked();
    crate::runner::expected_panic::install_quiet_hook();
    let args = Arguments::from_args();
    let order = match std::env::var("TESTBED_ORDER").as_deref() {
        Ok("listed") => Order::Listed,
        _ => Order::Planned,
    };
    let report = run(&args, registered(), order);
    if report.tests.len() > 1 {
        eprint!("{}", summary(&report));
    } else {
        eprint!("{}", clean_errors(&report));
    }
    if !report.clean_errors.is_empty() {
        std::process::exit(101);
    }
    report.conclusion.exit()
}

/// Every test `#[testbed::test]` registered in this binary, sorted by name.
pub fn registered() -> Vec<Trial> {
    let mut trials: Vec<Trial> = inventory::iter::<RegisteredTest>
        .into_iter()
        .map(Trial::from_registered)
        .collect();
    trials.sort_by(|a, b| a.name.cmp(&b.name));
    trials
}

/// Runs `trials` in `order` under `args`, then tears every resource down.
pub fn run(args: &Arguments, trials: Vec<Trial>, order: Order) -> RunReport {
    let started = Instant::now();
    let resources = resource_index(&trials);
    let before: Vec<ResourceStats> = resources.iter().map(|r| r.stats()).collect();

    let (runnable, idle): (Vec<Trial>, Vec<Trial>) =
        trials.into_iter().partition(|trial| will_run(args, trial));
    let sets: Vec<ResourceSet> = runnable
        .iter()
        .map(|trial| resource_set(&resources, &trial.resources))
        .collect();
    let positions = match order {
        Order::Planned => plan::order(&sets, &[]),
        Order::Listed => (0..runnable.len()).collect(),
    };
    let mut slots: Vec<Option<Trial>> = runnable.into_iter().map(Some).collect();
    let ordered: Vec<Trial> = positions
        .iter()
        .map(|&position| slots[position].take().expect("each position once"))
        .collect();
    let ordered_sets = positions.iter().map(|&p| sets[p].clone()).collect();
    let threads = args
        .test_threads
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    let schedule = Arc::new(Schedule::new(resources.clone(), ordered_sets, threads));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let undeclared = Arc::new(std::sync::Mutex::new(Vec::new()));
    let records = Arc::new(std::sync::Mutex::new(Vec::new()));

    let mut mimic_trials = Vec::new();
    for (position, trial) in ordered.into_iter().enumerate() {
        let schedule = schedule.clone();
        let errors = errors.clone();
        let undeclared = undeclared.clone();
        let records = records.clone();
        let declared: Vec<&'static dyn AnyResource> = sets[positions[position]]
            .iter()
            .map(|&resource| resources[resource])
            .collect();
        let Trial {
            name,
            run,
            ignored,
            should_panic,
            ..
        } = trial;
        let test_name = name.clone();
        let runner = move || {
            schedule.start(position);
            let ((result, record), used) = capture_usage(|| execute(&test_name, run, should_panic));
            crate::core::lock(&records).push(record);
            let released = schedule.end(position);
            crate::core::lock(&errors).extend(released);
            crate::core::lock(&undeclared).extend(
                used.into_iter()
                    .filter(|resource| !declared.iter().any(|known| same(*known, *resource)))
                    .map(|resource| (test_name.clone(), resource.name())),
            );
            result
        };
        mimic_trials
            .push(libtest_mimic::Trial::ignorable_test(name, runner).with_ignored_flag(ignored));
    }
    for trial in idle {
        let Trial {
            name,
            run,
            ignored,
            should_panic,
            ..
        } = trial;
        let records = records.clone();
        let test_name = name.clone();
        let runner = move || {
            let (result, record) = execute(&test_name, run, should_panic);
            crate::core::lock(&records).push(record);
            result
        };
        mimic_trials
            .push(libtest_mimic::Trial::ignorable_test(name, runner).with_ignored_flag(ignored));
    }

    let conclusion = libtest_mimic::run(args, mimic_trials);
    let mut clean_errors = std::mem::take(&mut *crate::core::lock(&errors));
    clean_errors.extend(teardown_all());
    let costs = costs(&resources, &before);
    let mut undeclared = std::mem::take(&mut *crate::core::lock(&undeclared));
    undeclared.sort();
    let mut tests = std::mem::take(&mut *crate::core::lock(&records));
    tests.sort_by(|a: &TestRecord, b| a.name.cmp(&b.name));
    RunReport {
        conclusion,
        costs,
        clean_errors,
        undeclared,
        tests,
        sections: render_sections(),
        wall: started.elapsed(),
    }
}

/// Whether libtest-mimic will run `trial` (not filtered out, not ignored).
fn will_run(args: &Arguments, trial: &Trial) -> bool {
    let probe =
        libtest_mimic::Trial::test(trial.name.clone(), || Ok(())).with_ignored_flag(trial.ignored);
    !args.list && !args.is_filtered_out(&probe) && !args.is_ignored(&probe)
}

/// Every resource the trials declare, with their dependencies, each once.
fn resource_index(trials: &[Trial]) -> Vec<&'static dyn AnyResource> {
    let mut index: Vec<&'static dyn AnyResource> = Vec::new();
    fn add(index: &mut Vec<&'static dyn AnyResource>, resource: &'static dyn AnyResource) {
        if index.iter().any(|known| same(*known, resource)) {
            return;
        }
        for dep in resource.dependencies() {
            add(index, *dep);
        }
        index.push(resource);
    }
    for trial in trials {
        for resource in &trial.resources {
            add(&mut index, *resource);
        }
    }
    for resource in live_resources() {
        add(&mut index, resource);
    }
    index
}

fn same(a: &dyn AnyResource, b: &dyn AnyResource) -> bool {
    std::ptr::addr_eq(a as *const dyn AnyResource, b as *const dyn AnyResource)
}

/// The indices of `declared` and everything they depend on.
fn resource_set(
    index: &[&'static dyn AnyResource],
    declared: &[&'static dyn AnyResource],
) -> ResourceSet {
    let mut set = ResourceSet::new();
    let mut stack: Vec<&'static dyn AnyResource> = declared.to_vec();
    while let Some(resource) = stack.pop() {
        if let Some(position) = index.iter().position(|known| same(*known, resource)) {
            if set.insert(position) {
                stack.extend(resource.dependencies().iter().copied());
            }
        }
    }
    set
}

fn costs(resources: &[&'static dyn AnyResource], before: &[ResourceStats]) -> Vec<ResourceCost> {
    let mut all: Vec<&'static dyn AnyResource> = resources.to_vec();
    for resource in live_resources() {
        if !all.iter().any(|known| same(*known, resource)) {
            all.push(resource);
        }
    }
    all.into_iter()
        .enumerate()
        .map(|(position, resource)| {
            let now = resource.stats();
            let was = before.get(position).copied().unwrap_or_default();
            ResourceCost {
                name: resource.name(),
                stats: ResourceStats {
                    makes: now.makes - was.makes,
                    resets: now.resets - was.resets,
                    cleans: now.cleans - was.cleans,
                    make_time: now.make_time.saturating_sub(was.make_time),
                    reset_time: now.reset_time.saturating_sub(was.reset_time),
                    clean_time: now.clean_time.saturating_sub(was.clean_time),
                },
            }
        })
        .filter(|cost| cost.stats != ResourceStats::default())
        .collect()
}
