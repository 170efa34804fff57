//! The calls a generated test makes inside its setup-and-body closure: set up each
//! fixture argument, then run the body, turning what it returned into a [`Step`].

use crate::core::{AsyncFixture, BoxError, Fixture, Scope};

use super::verdict::{IntoVerdict, Verdict};

/// What the generated setup-and-body closure returns: the body's verdict, or the error
/// a fixture's setup returned.
pub type Step = Result<Verdict, BoxError>;

/// Sets up a sync fixture argument.
pub fn setup<T: Fixture>(scope: &Scope) -> Result<T, BoxError> {
    T::setup(scope)
}

/// Sets up a fixture argument of an async test.
pub async fn setup_async<T: AsyncFixture>(scope: &Scope) -> Result<T, BoxError> {
    T::setup(scope).await
}

/// Runs a sync body: marks setup as over, routes logs to the test's capture, and turns
/// what the body returned into a verdict.
pub fn body<R: IntoVerdict>(scope: &Scope, body: impl FnOnce() -> R) -> Step {
    enter_body(scope);
    Ok(crate::builtins::logs::with_capture(scope, body).into_verdict())
}

/// Runs an async body, as [`body`].
pub async fn body_async<R: IntoVerdict>(scope: &Scope, body: impl Future<Output = R>) -> Step {
    enter_body(scope);
    Ok(crate::builtins::logs::with_capture_async(scope, body)
        .await
        .into_verdict())
}

fn enter_body(scope: &Scope) {
    scope.mark_body_started();
}
