//! Captured logs: the `tracing` output of one test, kept in memory and attached to the
//! test's report when it fails.

#[cfg(feature = "tracing")]
pub use capture::CapturedLogs;
#[cfg(feature = "tracing")]
pub(crate) use capture::{with_capture, with_capture_async};

#[cfg(not(feature = "tracing"))]
pub(crate) fn with_capture<R>(_scope: &crate::Scope, body: impl FnOnce() -> R) -> R {
    body()
}

#[cfg(not(feature = "tracing"))]
pub(crate) async fn with_capture_async<R>(
    _scope: &crate::Scope,
    body: impl std::future::Future<Output = R>,
) -> R {
    body.await
}

#[cfg(feature = "tracing")]
mod capture {
    use std::future::Future;
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing::Dispatch;
    use tracing::instrument::WithSubscriber;
    use tracing_subscriber::fmt::MakeWriter;

    use crate::core::lock;
    use crate::{BoxError, Fixture, Scope};

    /// The test's `tracing` events, captured while its body runs and attached to the
    /// report as the detail `log` when the test fails.
    ///
    /// Events are captured from the test's own thread (sync tests) or task (async tests)
    /// at every level; threads the test spawns log to the process's global subscriber.
    ///
    /// ```
    /// use testbed::CapturedLogs;
    ///
    /// #[testbed::test]
    /// fn logs_are_captured(logs: CapturedLogs) {
    ///     tracing::info!(user = "ada", "signed in");
    ///     assert!(logs.contents().contains("signed in"));
    /// }
    /// # logs_are_captured();
    /// ```
    #[derive(Debug, Clone)]
    pub struct CapturedLogs {
        buffer: SharedBuffer,
    }

    impl CapturedLogs {
        /// Everything logged so far, one formatted event per line.
        pub fn contents(&self) -> String {
            String::from_utf8_lossy(&lock(&self.buffer.0)).into_owned()
        }
    }

    /// The dispatcher the runner installs around the body, kept in the test's scope.
    struct Capture(Dispatch);

    impl Fixture for CapturedLogs {
        fn setup(scope: &Scope) -> Result<Self, BoxError> {
            let buffer = SharedBuffer::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(buffer.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_target(true)
                .finish();
            let dispatch = Dispatch::new(subscriber);
            scope.with_slot(
                || Capture(dispatch.clone()),
                |capture| capture.0 = dispatch.clone(),
            );
            let details = scope.details();
            let captured = buffer.clone();
            scope.add_cleanup(move |outcome| {
                let text = String::from_utf8_lossy(&lock(&captured.0)).into_owned();
                if outcome.is_failure() && !text.is_empty() {
                    details.attach("log", text);
                }
            });
            Ok(CapturedLogs { buffer })
        }
    }

    fn dispatch_of(scope: &Scope) -> Option<Dispatch> {
        scope.slot::<Capture, _>(|capture| capture.0.clone())
    }

    pub(crate) fn with_capture<R>(scope: &Scope, body: impl FnOnce() -> R) -> R {
        match dispatch_of(scope) {
            Some(dispatch) => tracing::dispatcher::with_default(&dispatch, body),
            None => body(),
        }
    }

    pub(crate) async fn with_capture_async<R>(scope: &Scope, body: impl Future<Output = R>) -> R {
        match dispatch_of(scope) {
            Some(dispatch) => body.with_subscriber(dispatch).await,
            None => body.await,
        }
    }

    #[derive(Debug, Clone, Default)]
    struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for SharedBuffer {
        type Writer = SharedBuffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }
}
