//! Driving futures from sync code: async cleanups of sync tests, and catching panics
//! inside futures.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `future` to completion on the current thread.
///
/// With the `tokio` feature the future gets a current-thread tokio runtime, so cleanups
/// that use tokio's timers or I/O work; when called from inside a runtime it uses a
/// helper thread, because tokio refuses to nest runtimes.
#[cfg(feature = "tokio")]
pub(crate) fn block_on<F: Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    fn run<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("testbed: cannot build a tokio runtime to run an async cleanup")
            .block_on(future)
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|threads| {
            threads
                .spawn(|| run(future))
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
        })
    } else {
        run(future)
    }
}

/// Runs `future` to completion on the current thread, parking between polls.
#[cfg(not(feature = "tokio"))]
pub(crate) fn block_on<F: Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Resolves to `Err(payload)` if polling `future` panics, instead of unwinding.
///
/// The future is boxed so that pinning needs no `unsafe` projection.
pub(crate) fn catch_unwind_future<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind {
        future: Box::pin(future),
    }
}

/// The future returned by [`catch_unwind_future`].
pub(crate) struct CatchUnwind<F> {
    future: Pin<Box<F>>,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.future.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(context))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::block_on;

    /// A future that is pending once and wakes itself: `block_on` must poll it again
    /// (with tokio, on its runtime; without, after an unpark).
    struct YieldOnce(bool);

    impl std::future::Future for YieldOnce {
        type Output = &'static str;

        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            context: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            if self.0 {
                return std::task::Poll::Ready("done");
            }
            self.0 = true;
            context.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    #[test]
    fn drives_a_future_that_yields_to_its_end() {
        assert_eq!(block_on(YieldOnce(false)), "done");
        assert_eq!(block_on(async { 1 + 1 }), 2);
    }
}
