//! What a resource's make function receives: its dependencies, already made.

use std::any::Any;
use std::sync::Arc;

use super::registry::AnyResource;
use super::resource::{Instance, Resource};

/// A dependency instance held by a resource instance (or being handed to a make
/// function): it counts as one user of the dependency until released.
pub struct Hold {
    pub(crate) resource: &'static dyn AnyResource,
    pub(crate) instance: Arc<dyn Any + Send + Sync>,
    pub(crate) generation: u64,
}

impl Hold {
    pub(crate) fn is_fresh(&self) -> bool {
        self.resource.is_fresh(self.generation)
    }
}

/// The dependencies of a resource being made, in the order they were declared with
/// [`Resource::depends_on`].
///
/// ```
/// use testbed::resources::Resource;
///
/// static PORT: Resource<u16> = Resource::new("port", |_| Ok(5432));
/// static URL: Resource<String> = Resource::new("url", |deps| {
///     Ok(format!("postgres://127.0.0.1:{}", deps.get(&PORT)))
/// })
/// .depends_on(&[&PORT]);
/// ```
pub struct Deps<'a> {
    pub(crate) resource: &'static str,
    pub(crate) holds: &'a [Hold],
}

impl<'a> Deps<'a> {
    /// The value of dependency `resource`.
    ///
    /// # Panics
    ///
    /// When `resource` was not declared with [`Resource::depends_on`]: a dependency the
    /// resource does not declare could be reset without the resource noticing.
    pub fn get<D: Send + Sync + 'static>(&self, resource: &'static Resource<D>) -> &'a D {
        let wanted: *const Resource<D> = resource;
        let hold = self
            .holds
            .iter()
            .find(|hold| std::ptr::addr_eq(hold.resource as *const dyn AnyResource, wanted))
            .unwrap_or_else(|| {
                panic!(
                    "resource `{}` is not a declared dependency of `{}` \
                     (hint: declare it with `.depends_on(&[...])` on `{}`)",
                    resource.name(),
                    self.resource,
                    self.resource
                )
            });
        let instance = hold
            .instance
            .downcast_ref::<Instance<D>>()
            .expect("a hold of a `Resource<D>` holds an `Instance<D>`");
        &instance.value
    }
}
