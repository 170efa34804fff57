//! What leak detection costs per test: a trivial sync `#[testbed::test]` (no fixture)
//! with every check on, against the same test with the checks off, side by side in one
//! run; then each check alone (the others allowed), to show what dominates.
//!
//! Cases are interleaved within every repetition so that frequency scaling and noisy
//! neighbours hit them alike; the median of the repetitions is reported. The last line
//! is the headline: `leak checks per test: <N> µs (off: <M> µs)`.

use std::hint::black_box;
use std::time::Duration;

use testbed::__private::{ShouldPanic, Step, TestInfo, body, override_policy, run_sync};
use testbed::Scope;
use testbed::leaks::{Category, Policy};

#[path = "support/interleaved.rs"]
mod interleaved;
use interleaved::Case;

/// How many categories a test that checks one alone allows.
const REST: usize = Category::ALL.len() - 1;

/// Every category but `only`, for a test that checks `only` alone.
const fn all_but(only: Category) -> [Category; REST] {
    let all = Category::ALL;
    let mut rest = [Category::Env; REST];
    let (mut from, mut to) = (0, 0);
    while from < all.len() {
        if all[from] as u8 != only as u8 {
            rest[to] = all[from];
            to += 1;
        }
        from += 1;
    }
    rest
}

const ONLY_ENV: [Category; REST] = all_but(Category::Env);
const ONLY_CWD: [Category; REST] = all_but(Category::Cwd);
const ONLY_THREADS: [Category; REST] = all_but(Category::Threads);
const ONLY_FDS: [Category; REST] = all_but(Category::Fds);
const ONLY_CHILDREN: [Category; REST] = all_but(Category::Children);
const ONLY_TEMP_FILES: [Category; REST] = all_but(Category::TempFiles);
const ONLY_OVERRIDES: [Category; REST] = all_but(Category::Overrides);
const ONLY_HANDLES: [Category; REST] = all_but(Category::Handles);

const fn info(allow_leaks: &'static [Category]) -> TestInfo {
    TestInfo {
        name: "leaks::bench",
        timeout: None,
        should_panic: ShouldPanic::No,
        allow_leaks,
    }
}

/// The body every case runs: a small assertion, as in a typical fast unit test.
fn test_body() {
    let value = black_box(20_u64);
    assert_eq!(value + 22, 42);
}

fn run_test(info: &TestInfo) {
    run_sync(info, |scope: &Scope| -> Step { body(scope, test_body) });
}

/// A case: this test run under `policy`.
fn case(name: &'static str, policy: Policy, info: TestInfo) -> Case {
    Case::new(name, 200, move || {
        override_policy(Some(policy));
        run_test(&info);
    })
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let repetitions = if quick { 5 } else { 31 };
    let mut cases = [
        case("checks off", Policy::Off, info(&[])),
        case("every check on", Policy::Fail, info(&[])),
        case("env alone", Policy::Fail, info(&ONLY_ENV)),
        case("cwd alone", Policy::Fail, info(&ONLY_CWD)),
        case("threads alone", Policy::Fail, info(&ONLY_THREADS)),
        case("fds alone", Policy::Fail, info(&ONLY_FDS)),
        case("children alone", Policy::Fail, info(&ONLY_CHILDREN)),
        case("temp_files alone", Policy::Fail, info(&ONLY_TEMP_FILES)),
        case("overrides alone", Policy::Fail, info(&ONLY_OVERRIDES)),
        case("handles alone", Policy::Fail, info(&ONLY_HANDLES)),
    ];
    let warm = Duration::from_millis(if quick { 50 } else { 300 });
    interleaved::measure(&mut cases, warm, repetitions);
    override_policy(None);

    let off = cases[0].median();
    println!("median of {repetitions} interleaved repetitions, per trivial sync test:");
    for case in &cases {
        let median = case.median();
        println!(
            "  {:<18} {:>9.2} µs  (+{:.2} µs over checks off)",
            case.name,
            median / 1000.0,
            (median - off) / 1000.0
        );
    }
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
    let temp = std::fs::read_dir(std::env::temp_dir()).map_or(0, Iterator::count);
    println!(
        "  (this process: {threads} threads, {fds} descriptors; {temp} entries in `{}`)",
        std::env::temp_dir().display()
    );
    let on = cases[1].median();
    println!(
        "leak checks per test: {:.1} µs (off: {:.1} µs)",
        (on - off) / 1000.0,
        off / 1000.0
    );
}
