//! A resource without its value type: the [`AnyResource`] face every
//! [`Resource`](super::Resource) shows to the registry, the harness's planner and its
//! dependents, the [`Hold`] a dependent keeps on it, and what it cost
//! ([`ResourceStats`]). The bottom of the resources module: it imports none of the
//! others.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::error::ResourceCleanError;
use crate::core::BoxError;

/// What any [`Resource`](super::Resource) offers without naming its value type: enough to
/// plan, release and account for it. Sealed: only testbed's `Resource` implements it.
pub trait AnyResource: sealed::Sealed + Send + Sync {
    /// The resource's name, as given to [`Resource::new`](super::Resource::new).
    fn name(&self) -> &'static str;

    /// The resources this one is made from.
    fn dependencies(&self) -> &'static [&'static dyn AnyResource];

    /// What the resource has cost in this process so far.
    fn stats(&self) -> ResourceStats;

    /// Cleans the resource now if no test is using it; a resource in use is left alone.
    /// Returns whether it was cleaned.
    fn release_if_unused(&self) -> Result<bool, ResourceCleanError>;
}

impl std::fmt::Debug for dyn AnyResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resource").field(&self.name()).finish()
    }
}

/// What one resource cost: how often it was made, reset and cleaned, and how long that
/// took in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceStats {
    /// Calls of the make function, remakes after a dirtying included.
    pub makes: u64,
    /// Calls of the reset hook.
    pub resets: u64,
    /// Instances cleaned.
    pub cleans: u64,
    /// Time spent in the make function.
    pub make_time: Duration,
    /// Time spent in the reset hook.
    pub reset_time: Duration,
    /// Time spent cleaning.
    pub clean_time: Duration,
}

impl ResourceStats {
    /// Make, reset and clean time together.
    pub fn total_time(&self) -> Duration {
        self.make_time + self.reset_time + self.clean_time
    }
}

/// A dependency instance held by a resource instance (or being handed to a make
/// function): it counts as one user of the dependency until released.
pub struct Hold {
    pub(crate) resource: &'static dyn AnyResource,
    pub(crate) instance: Arc<dyn Any + Send + Sync>,
    pub(crate) generation: u64,
}

impl Hold {
    pub(crate) fn is_fresh(&self) -> bool {
        sealed::Sealed::is_fresh(self.resource, self.generation)
    }
}

/// What the registry and dependents do with a resource's instances: behind a trait no
/// other crate can name, so `AnyResource` is implemented by [`Resource`](super::Resource)
/// alone and these are called by testbed alone.
pub(crate) mod sealed {
    use super::{BoxError, Hold, ResourceCleanError};

    /// The instance-level operations of a resource.
    pub trait Sealed {
        /// Makes the resource (if needed) and returns a hold on its current instance, made
        /// for a dependent instance: it keeps the instance alive but is not a use until
        /// [`activate`](Sealed::activate)d.
        fn hold_current(&'static self) -> Result<Hold, BoxError>;

        /// Counts a use of the held instance (its dependent is in use).
        fn activate(&self, hold: &Hold);

        /// Ends a use counted by [`activate`](Sealed::activate).
        fn deactivate(&self, hold: &Hold) -> Result<(), ResourceCleanError>;

        /// Drops a hold made by [`hold_current`](Sealed::hold_current).
        fn unhold(&self, hold: Hold) -> Result<(), ResourceCleanError>;

        /// Whether the instance of `generation` is still current and clean, its
        /// dependencies included.
        fn is_fresh(&self, generation: u64) -> bool;
    }
}
