//! Quiet expected panics: while a `#[should_panic]` test's body runs, its thread is
//! marked, and the harness's panic hook prints nothing for a marked thread. libtest
//! captures a passing test's output itself; testbed's harness does not, so without this
//! every passing `#[should_panic]` test printed its panic on stderr.
//!
//! A panic that fails the test (the wrong message) is still reported: the runner's
//! report carries its message.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    static EXPECTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `body` with this thread marked as expecting a panic when `expecting`.
pub(crate) fn marked<T>(expecting: bool, body: impl FnOnce() -> T) -> T {
    struct Unmark(bool);
    impl Drop for Unmark {
        fn drop(&mut self) {
            EXPECTING.with(|flag| flag.set(self.0));
        }
    }
    let previous = EXPECTING.with(|flag| flag.replace(expecting));
    let _unmark = Unmark(previous);
    body()
}

/// Installs the panic hook that stays silent on marked threads and leaves every other
/// panic to the hook that was there. Once per process; the harness calls it.
#[cfg_attr(not(feature = "harness"), allow(dead_code))]
pub(crate) fn install_quiet_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTING.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// [`marked`] for a future polled on this thread (an async test's current-thread
/// runtime): the mark holds during each poll.
#[cfg(feature = "tokio")]
pub(crate) async fn marked_future<F: std::future::Future>(expecting: bool, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| marked(expecting, || future.as_mut().poll(cx))).await
}
