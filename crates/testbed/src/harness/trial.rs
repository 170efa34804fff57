//! One test as the harness runs it: a name, a function, the resources it declared, and
//! how its panics and skips become libtest outcomes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use libtest_mimic::{Completion, Failed};

use super::outcomes::{TestRecord, with_scenario};
use super::registration::{RegisteredTest, ShouldPanic};
use crate::core::{Outcome, Unavailable, panic_message};
use crate::resources::AnyResource;
use crate::runner::capture_skip;

/// A test for [`run`](super::run): what `#[testbed::test]` registers, or one built by hand
/// (a generated suite, a benchmark).
///
/// ```
/// use testbed::__private::harness::Trial;
/// use testbed::resources::Resource;
///
/// static SERVER: Resource<u16> = Resource::new("server", |_| Ok(8080));
///
/// let trial = Trial::new("answers", || assert_eq!(2 + 2, 4)).with_resources(&[&SERVER]);
/// assert_eq!(trial.name(), "answers");
/// ```
pub struct Trial {
    pub(crate) name: String,
    pub(crate) run: Box<dyn FnOnce() + Send>,
    pub(crate) ignored: bool,
    pub(crate) should_panic: ShouldPanic,
    pub(crate) resources: Vec<&'static dyn AnyResource>,
}

impl Trial {
    /// A test named `name` that fails when `run` panics.
    pub fn new(name: impl Into<String>, run: impl FnOnce() + Send + 'static) -> Self {
        Trial {
            name: name.into(),
            run: Box::new(run),
            ignored: false,
            should_panic: ShouldPanic::No,
            resources: Vec::new(),
        }
    }

    /// Declares the resources the test uses, for ordering and release.
    pub fn with_resources(mut self, resources: &[&'static dyn AnyResource]) -> Self {
        self.resources.extend_from_slice(resources);
        self
    }

    /// Marks the test `#[ignore]`d.
    pub fn with_ignored_flag(mut self, ignored: bool) -> Self {
        self.ignored = ignored;
        self
    }

    /// Expects the test to panic, as `#[should_panic]`.
    pub fn with_should_panic(mut self, should_panic: ShouldPanic) -> Self {
        self.should_panic = should_panic;
        self
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resources the test declared.
    pub fn resources(&self) -> &[&'static dyn AnyResource] {
        &self.resources
    }

    /// A registered test, named as libtest would name it (without the crate segment).
    pub(crate) fn from_registered(test: &RegisteredTest) -> Self {
        let name = crate::runner::libtest_name(test.name);
        Trial {
            name: name.to_owned(),
            run: Box::new(test.run),
            ignored: test.ignored,
            should_panic: test.should_panic,
            resources: test.resources.to_vec(),
        }
    }
}

impl std::fmt::Debug for Trial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trial")
            .field("name", &self.name)
            .field("ignored", &self.ignored)
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

/// Runs a test body: a panic is a failure (or the expected panic), a skip the testbed
/// runner reported becomes "ignored" with its reason. Also returns how the test ended,
/// for the summary.
pub(crate) fn execute(
    name: &str,
    run: Box<dyn FnOnce() + Send>,
    should_panic: ShouldPanic,
) -> (Result<Completion, Failed>, TestRecord) {
    let mut panicked = None;
    let (skipped, scenario) = with_scenario(|| {
        capture_skip(|| {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(run)) {
                panicked = Some(panic_message(&*payload));
            }
        })
    });
    let result = judge(should_panic, panicked, skipped.as_ref());
    let outcome = match (&result, &skipped) {
        (Err(_), _) => Outcome::Failed,
        (Ok(_), Some(_)) => Outcome::Skipped,
        (Ok(_), None) => Outcome::Passed,
    };
    let record = TestRecord {
        name: name.to_owned(),
        scenario,
        outcome,
        skipped: skipped.filter(|_| outcome == Outcome::Skipped),
    };
    (result, record)
}

fn judge(
    should_panic: ShouldPanic,
    panicked: Option<String>,
    skipped: Option<&Unavailable>,
) -> Result<Completion, Failed> {
    match (should_panic, panicked) {
        (ShouldPanic::No, None) => Ok(match skipped {
            None => Completion::Completed,
            Some(unavailable) => Completion::ignored_with(unavailable.to_string()),
        }),
        (ShouldPanic::No, Some(message)) => Err(message.into()),
        (ShouldPanic::Yes, Some(_)) => Ok(Completion::Completed),
        (ShouldPanic::WithMessage(expected), Some(message)) => {
            if message.contains(expected) {
                Ok(Completion::Completed)
            } else {
                Err(format!(
                    "panic did not contain the expected text\n  panic message: {message:?}\n  \
                     expected text: {expected:?}"
                )
                .into())
            }
        }
        (_, None) => Err("test did not panic as expected".into()),
    }
}
