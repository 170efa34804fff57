//! How an error shows its cause: [`Reason`], a cause in testbed-db's own words, and
//! the `Debug` form every error of the crate shares (its message, then its causes).

use std::fmt;

/// A cause that testbed-db words itself: a server's reply rewritten to hide testbed's
/// internal names, a wait that ran out, what a probe found. It is the `source()` of the
/// error it explains.
///
/// ```
/// let reason = testbed_db::Reason::new("no answer within 3 s");
/// assert_eq!(reason.to_string(), "no answer within 3 s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Reason(String);

impl Reason {
    /// A reason reading `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Reason(text.into())
    }
}

/// Writes `error`'s message and then each cause on its own `caused by:` line, skipping a
/// cause whose words the text above already holds (a transparent wrapper's, say): the
/// `Debug` form of testbed-db's errors, which libtest prints for a test that returns one
/// through `?` and `unwrap` prints too.
pub(crate) fn write_chain(
    f: &mut fmt::Formatter<'_>,
    error: &(dyn std::error::Error + 'static),
) -> fmt::Result {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let words = next.to_string();
        if !text.contains(&words) {
            text.push_str("\n  caused by: ");
            text.push_str(&words);
        }
        cause = next.source();
    }
    f.write_str(&text)
}
