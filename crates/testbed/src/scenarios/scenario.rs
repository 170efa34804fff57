//! The scenario a test runs in: its name and one value per dimension.

use std::fmt;

use crate::core::{Scope, Unavailable};

/// The scenario a test runs in, given to a test that takes a `Scenario` argument and to
/// its fixtures through [`Scenario::of`].
///
/// `#[testbed::test(scenarios(memory, sqlite))]` makes one test per name, called
/// `test_name::memory` and `test_name::sqlite`; the list is one dimension, named
/// `scenario`. Named lists multiply: `scenarios(backend = [memory, sqlite], format =
/// [json, yaml])` makes four tests, `test_name::memory::json` and so on, so a filter on
/// `test_name::sqlite` runs every format on sqlite and `::json` every backend in json.
///
/// ```
/// use testbed::scenarios::Scenario;
///
/// #[testbed::test(scenarios(backend = [memory, sqlite], format = [json, yaml]))]
/// fn round_trips(scenario: Scenario) {
///     assert!(["memory", "sqlite"].contains(&scenario.get("backend").unwrap()));
///     assert!(scenario.name().ends_with("json") || scenario.name().ends_with("yaml"));
/// }
/// # fn main() {
/// #     round_trips::memory::json();
/// #     round_trips::sqlite::yaml();
/// # }
/// ```
///
/// A scenario that cannot run here (its server is down, a feature is off) is skipped:
/// return [`Unavailable`] from a fixture or call [`testbed::skip`](crate::skip), naming
/// the scenario's value as the requirement (see [`Scenario::unavailable`]), so that
/// `TESTBED_REQUIRE=postgres` (or `all`) turns the skip into a failure.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scenario {
    dimensions: &'static [(&'static str, &'static str)],
}

impl Scenario {
    /// A scenario from its `(dimension, value)` pairs, in declaration order.
    pub const fn new(dimensions: &'static [(&'static str, &'static str)]) -> Self {
        Scenario { dimensions }
    }

    /// The scenario the test owning `scope` runs in, if it has scenarios: how a fixture
    /// picks its backend.
    ///
    /// ```
    /// use testbed::scenarios::Scenario;
    /// use testbed::{BoxError, Fixture, Scope};
    ///
    /// struct Store(&'static str);
    ///
    /// impl Fixture for Store {
    ///     fn setup(scope: &Scope) -> Result<Self, BoxError> {
    ///         let scenario = Scenario::of(scope).ok_or("`Store` needs scenarios")?;
    ///         Ok(Store(scenario.value()))
    ///     }
    /// }
    ///
    /// #[testbed::test(scenarios(memory, sqlite))]
    /// fn stores(store: Store, scenario: Scenario) {
    ///     assert_eq!(store.0, scenario.name());
    /// }
    /// # fn main() {
    /// #     stores::memory();
    /// # }
    /// ```
    pub fn of(scope: &Scope) -> Option<Scenario> {
        scope.slot::<Scenario, _>(|scenario| *scenario)
    }

    /// The scenario's name: its values joined by `::`, as in the test's name
    /// (`memory`, or `sqlite::json` for several dimensions).
    pub fn name(&self) -> String {
        let values: Vec<_> = self.dimensions.iter().map(|(_, value)| *value).collect();
        values.join("::")
    }

    /// The value of the first dimension: the whole scenario when there is one dimension.
    pub fn value(&self) -> &'static str {
        self.dimensions.first().map_or("", |(_, value)| value)
    }

    /// The value of `dimension` (`scenario` for a plain list), if the test has it.
    pub fn get(&self, dimension: &str) -> Option<&'static str> {
        self.dimensions
            .iter()
            .find(|(name, _)| *name == dimension)
            .map(|(_, value)| *value)
    }

    /// Whether any dimension has `value`.
    pub fn is(&self, value: &str) -> bool {
        self.dimensions.iter().any(|(_, own)| *own == value)
    }

    /// Every `(dimension, value)` pair.
    pub fn dimensions(&self) -> &'static [(&'static str, &'static str)] {
        self.dimensions
    }

    /// The skip of this scenario's first value (`postgres`), for `reason`: what a
    /// fixture returns when the scenario's backend is missing. `TESTBED_REQUIRE` matches
    /// it by that value.
    pub fn unavailable(&self, reason: impl Into<String>) -> Unavailable {
        Unavailable::new(self.value(), reason)
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.dimensions.iter().map(|(name, value)| (name, value)))
            .finish()
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Records the scenario of the test owning `scope`, for [`Scenario::of`].
pub(crate) fn enter(scope: &Scope, scenario: Scenario) {
    scope.with_slot(|| scenario, |slot| *slot = scenario);
}

#[cfg(test)]
mod tests {
    use super::Scenario;

    #[test]
    fn names_and_looks_up_dimensions() {
        let scenario = Scenario::new(&[("backend", "sqlite"), ("format", "json")]);
        assert_eq!(scenario.name(), "sqlite::json");
        assert_eq!(scenario.value(), "sqlite");
        assert_eq!(scenario.get("format"), Some("json"));
        assert_eq!(scenario.get("colour"), None);
        assert!(scenario.is("json") && !scenario.is("yaml"));
        assert_eq!(scenario.unavailable("down").requirement(), "sqlite");
    }
}
