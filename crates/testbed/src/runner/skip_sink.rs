//! Where a skip goes: under libtest, a `SKIPPED` line on stderr (libtest cannot report a
//! skip, rust-lang/rust#68007); under the harness, to the harness, which reports the test
//! as ignored with its reason and counts it.

use std::cell::RefCell;

use crate::core::Unavailable;

thread_local! {
    /// Set while the harness runs a test on this thread; holds the skip, if any.
    static SINK: RefCell<Option<Option<Unavailable>>> = const { RefCell::new(None) };
}

#[cfg_attr(not(feature = "harness"), allow(dead_code))]
/// Runs `test` with skips captured instead of printed, and returns the skip it reported.
pub fn capture_skip(test: impl FnOnce()) -> Option<Unavailable> {
    SINK.with(|sink| *sink.borrow_mut() = Some(None));
    // Whatever the test does, the sink must not stay set for the next test on the thread.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SINK.with(|sink| sink.borrow_mut().take());
        }
    }
    let reset = Reset;
    test();
    let skipped = SINK.with(|sink| sink.borrow_mut().as_mut().and_then(Option::take));
    drop(reset);
    skipped
}

/// Reports that `test` was skipped for `unavailable` (and, under nextest, writes it to
/// the run's skip ledger: see [`crate::skips`]).
pub(crate) fn announce(test: &str, unavailable: &Unavailable) {
    crate::skips::record(test, unavailable);
    let captured = SINK.with(|sink| match sink.borrow_mut().as_mut() {
        Some(slot) => {
            *slot = Some(unavailable.clone());
            true
        }
        None => false,
    });
    if !captured {
        crate::core::emit(&format!("SKIPPED {test}: {unavailable}"));
    }
}
