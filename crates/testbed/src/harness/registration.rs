//! How `#[testbed::test]` tells the harness about a test: an entry collected at link
//! time (with the `harness` feature), holding the test function and what it declared.

use crate::resources::AnyResource;

/// What `#[should_panic]` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShouldPanic {
    /// The test must not panic.
    No,
    /// The test must panic.
    Yes,
    /// The test must panic with a message containing this text.
    WithMessage(&'static str),
}

/// One test as `#[testbed::test]` registered it.
#[derive(Debug)]
pub struct RegisteredTest {
    /// `crate::module::test` (the crate segment is dropped from the reported name, as
    /// libtest does).
    pub name: &'static str,
    /// Runs the test; a failure panics.
    pub run: fn(),
    /// `#[ignore]`.
    pub ignored: bool,
    /// `#[should_panic]`.
    pub should_panic: ShouldPanic,
    /// The resources the test declared with `resources(...)`.
    pub resources: &'static [&'static dyn AnyResource],
}

#[cfg(feature = "harness")]
inventory::collect!(RegisteredTest);

/// Registers a test with the harness; expands to nothing without the `harness` feature.
#[cfg(feature = "harness")]
#[doc(hidden)]
#[macro_export]
macro_rules! __harness_register {
    ($($field:ident : $value:expr),* $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::__private::RegisteredTest { $($field: $value),* }
        }
    };
}

/// Registers a test with the harness; expands to nothing without the `harness` feature.
#[cfg(not(feature = "harness"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __harness_register {
    ($($tokens:tt)*) => {};
}
