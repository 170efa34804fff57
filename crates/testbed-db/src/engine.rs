//! The process-wide runtime that owns every admin connection.
//!
//! Each async test runs on a runtime of its own that ends with the test, and a sqlx
//! connection dies with the runtime it was opened on. Admin connections, templates and
//! the owner lease outlive single tests, so they live here and tests await work sent here.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // Long-lived by design: never a leak of the test that happened to start it.
        crate::leak_rules::engine(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("testbed-db")
                .enable_all()
                .build()
                .expect("testbed-db: cannot start its runtime")
        })
    })
}

/// The engine's handle, to spawn background work (the warm pool's refills).
pub(crate) fn handle() -> &'static Handle {
    runtime().handle()
}

/// Whether the caller runs on the engine (not on a test's runtime).
#[cfg(feature = "postgres")]
pub(crate) fn is_current() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|current| current.id() == handle().id())
}

/// Runs `work` on the engine and waits for it from any runtime (or none).
pub(crate) async fn run<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match handle().spawn(work).await {
        Ok(output) => output,
        Err(error) => match error.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(error) => panic!("testbed-db: engine task cancelled: {error}"),
        },
    }
}

/// Boxes `future` as `Send`, where the compiler cannot see through sqlx's
/// higher-ranked executor bounds on its own.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn boxed<'a, T>(
    future: impl Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}
