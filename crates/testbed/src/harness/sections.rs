//! Lines other crates add to the harness's end-of-run summary, registered at run time so
//! the harness does not need to know them (`testbed-db` reports the databases it
//! acquired this way). Available without the `harness` feature, so a library can register
//! unconditionally: under plain libtest nothing prints the summary and the line is unused.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use crate::core::{lock, panic_message};

/// Renders one section: `None` leaves it out of this run's summary (nothing to say).
type Render = fn() -> Option<String>;

static SECTIONS: Mutex<Vec<(&'static str, Render)>> = Mutex::new(Vec::new());

/// Adds a line called `name` to the summary the [harness](crate::harness) prints at the
/// end of a run: after the tests and the resource teardown, the harness calls `render`
/// and prints `  <name>: <text>` (later lines of a multi-line text indented beneath).
/// `render` returning `None` leaves the line out.
///
/// Registration is per process and idempotent per name: registering `name` again (every
/// test calling it from a fixture's setup, say) keeps the first `render`. Sections print
/// in registration order.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// use testbed::__private::harness::{Arguments, Order, Trial, run, summary};
/// use testbed::harness::summary_section;
///
/// static ACQUIRED: AtomicU32 = AtomicU32::new(0);
///
/// fn databases() -> Option<String> {
///     let acquired = ACQUIRED.load(Ordering::Relaxed);
///     (acquired > 0).then(|| format!("{acquired} acquired"))
/// }
///
/// // What a fixture of a database crate does in its setup.
/// fn acquire_database() {
///     summary_section("databases", databases);
///     ACQUIRED.fetch_add(1, Ordering::Relaxed);
/// }
///
/// let trials = vec![Trial::new("first", acquire_database), Trial::new("second", acquire_database)];
/// let args = Arguments { quiet: true, ..Arguments::default() };
/// let report = run(&args, trials, Order::Planned);
/// assert!(summary(&report).contains("  databases: 2 acquired\n"));
/// ```
pub fn summary_section(name: &'static str, render: fn() -> Option<String>) {
    let mut sections = lock(&SECTIONS);
    if !sections.iter().any(|(known, _)| *known == name) {
        sections.push((name, render));
    }
}

/// Every registered section's text for this run, in registration order.
#[cfg_attr(not(feature = "harness"), allow(dead_code))]
pub(crate) fn render_sections() -> Vec<(&'static str, String)> {
    // Rendered outside the lock: a render may take locks of its own, or register.
    let sections = lock(&SECTIONS).clone();
    sections
        .into_iter()
        .filter_map(|(name, render)| {
            // One broken section must not cost the run its summary or its exit code.
            match catch_unwind(AssertUnwindSafe(render)) {
                Ok(text) => text.map(|text| (name, text)),
                Err(panic) => Some((
                    name,
                    format!("failed to render: {}", panic_message(&*panic)),
                )),
            }
        })
        .collect()
}
