//! Which resources a test used, as seen by the thread that runs its cleanups: the
//! harness compares it with what the test declared, so a missing `resources(...)` (which
//! the ordering cannot account for) is pointed out instead of silently costing remakes.

use std::cell::RefCell;

use super::erased::AnyResource;

thread_local! {
    /// Set while the harness runs a test on this thread.
    static USED: RefCell<Option<Vec<&'static dyn AnyResource>>> = const { RefCell::new(None) };
}

/// Notes that the test running on this thread used `resource` (nothing outside the
/// harness).
pub(crate) fn record(resource: &'static dyn AnyResource) {
    USED.with(|used| {
        if let Some(used) = used.borrow_mut().as_mut() {
            let known = used
                .iter()
                .any(|known| std::ptr::addr_eq(*known as *const _, resource as *const _));
            if !known {
                used.push(resource);
            }
        }
    });
}

/// Runs `test`, returning what it returned and the resources it used.
#[cfg(feature = "harness")]
pub(crate) fn capture<R>(test: impl FnOnce() -> R) -> (R, Vec<&'static dyn AnyResource>) {
    USED.with(|used| *used.borrow_mut() = Some(Vec::new()));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            USED.with(|used| used.borrow_mut().take());
        }
    }
    let reset = Reset;
    let result = test();
    let used = USED
        .with(|used| used.borrow_mut().take())
        .unwrap_or_default();
    drop(reset);
    (result, used)
}
