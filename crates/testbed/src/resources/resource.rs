//! One shared resource: declared in a `static`, made on first use (dependencies first),
//! shared by every test that asks for it, reset when dirtied, cleaned when released.

use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use super::erased::sealed::Sealed;
use super::erased::{AnyResource, Hold, ResourceStats};
use super::error::ResourceCleanError;
use super::registry::{self, EXITING};
use crate::core::{BoxError, Scope, Unavailable, lock, panic_message};

type MakeFn<T> = fn(&Deps<'_>) -> Result<T, BoxError>;
type HookFn<T> = fn(&T) -> Result<(), BoxError>;

/// An expensive thing many tests share, declared once in a `static`.
///
/// A test asks for it with [`get`](Resource::get) through its scope: the first call
/// makes it (its dependencies first), later calls share the same instance, and the
/// test's cleanup releases its use. A test that changes it calls
/// [`Shared::dirtied`]: the next user gets it reset (the reset hook, or clean and make
/// again). A resource is also dirty when one of its dependencies was reset or replaced.
///
/// An instance no test uses is kept for the next test in the process rather than
/// cleaned at once: under `cargo test` tests overlap in no useful order, and cleaning at
/// zero users would remake it again and again. It is cleaned by the harness at the end of
/// a run (or as soon as the harness's plan has no more users for it), and under plain
/// libtest when the process exits. Anything that must outlive the process belongs in a
/// [`Persistent`](super::Persistent) directory, which a sweep keeps bounded.
///
/// Make, reset and clean hooks never run inside an async runtime (from an async test
/// they run on a helper thread), so they may start a runtime of their own and block on
/// async code.
///
/// A make function that returns [`Unavailable`] is not retried: every later user is
/// skipped with the same reason, so a missing server is probed once per process.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use testbed::resources::Resource;
///
/// struct Server { port: u16, requests: AtomicU32 }
///
/// static SERVER: Resource<Server> = Resource::new("server", |_| {
///     Ok(Server { port: 8080, requests: AtomicU32::new(0) })
/// })
/// .with_reset(|server| {
///     server.requests.store(0, Ordering::SeqCst);
///     Ok(())
/// });
///
/// #[testbed::test]
/// fn uses_the_server(scope: &testbed::Scope) -> Result<(), testbed::BoxError> {
///     let server = SERVER.get(scope)?;
///     server.requests.fetch_add(1, Ordering::SeqCst);
///     server.dirtied(); // the next user gets `requests` back to zero
///     assert_eq!(server.port, 8080);
///     Ok(())
/// }
/// # uses_the_server();
/// ```
pub struct Resource<T: 'static> {
    name: &'static str,
    make: MakeFn<T>,
    reset: Option<HookFn<T>>,
    clean: Option<HookFn<T>>,
    deps: &'static [&'static dyn AnyResource],
    slot: Mutex<Slot<T>>,
    stats: Mutex<ResourceStats>,
}

struct Slot<T> {
    current: Option<Arc<Instance<T>>>,
    dirty: bool,
    next_generation: u64,
    unavailable: Option<Unavailable>,
}

/// One made value of a resource, with the dependency instances it was made from.
pub(crate) struct Instance<T> {
    pub(crate) value: T,
    /// Changes on every make and every reset, so dependents can tell they are stale.
    generation: std::sync::atomic::AtomicU64,
    /// Uses: tests, and dependent instances in use. Changed under the resource's lock.
    users: std::sync::atomic::AtomicUsize,
    /// Dependent instances made from it, in use or not. Changed under the resource's lock.
    holders: std::sync::atomic::AtomicUsize,
    holds: Mutex<Vec<Hold>>,
}

impl<T> Instance<T> {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn users(&self) -> usize {
        self.users.load(Ordering::SeqCst)
    }

    fn is_idle(&self) -> bool {
        self.users() == 0 && self.holders.load(Ordering::SeqCst) == 0
    }
}

/// Counts one use; the first use of an instance is a use of each dependency it holds.
fn start_use<T>(instance: &Instance<T>) {
    if instance.users.fetch_add(1, Ordering::SeqCst) == 0 {
        for hold in lock(&instance.holds).iter() {
            hold.resource.activate(hold);
        }
    }
}

fn is_current<T>(slot: &Slot<T>, instance: &Arc<Instance<T>>) -> bool {
    slot.current
        .as_ref()
        .is_some_and(|current| Arc::ptr_eq(current, instance))
}

impl<T: Send + Sync + 'static> Resource<T> {
    /// Declares a resource named `name`, made by `make` on first use.
    pub const fn new(name: &'static str, make: MakeFn<T>) -> Self {
        Resource {
            name,
            make,
            reset: None,
            clean: None,
            deps: &[],
            slot: Mutex::new(Slot {
                current: None,
                dirty: false,
                next_generation: 1,
                unavailable: None,
            }),
            stats: Mutex::new(ResourceStats {
                makes: 0,
                resets: 0,
                cleans: 0,
                make_time: Duration::ZERO,
                reset_time: Duration::ZERO,
                clean_time: Duration::ZERO,
            }),
        }
    }

    /// Declares the resources this one is made from: they are made first, handed to the
    /// make function through [`Deps`], kept while this one lives, and resetting or
    /// replacing one of them makes this one dirty.
    pub const fn depends_on(mut self, deps: &'static [&'static dyn AnyResource]) -> Self {
        self.deps = deps;
        self
    }

    /// Sets how a dirtied resource is brought back to its just-made state in place.
    /// Without it a dirtied resource is cleaned and made again.
    pub const fn with_reset(mut self, reset: HookFn<T>) -> Self {
        self.reset = Some(reset);
        self
    }

    /// Sets what is done before an instance is dropped (stop a server, drop a database).
    /// The value's own `Drop` runs after it.
    pub const fn with_clean(mut self, clean: HookFn<T>) -> Self {
        self.clean = Some(clean);
        self
    }

    /// The resource for this test: made if needed, shared otherwise. The use is released
    /// when `scope` runs its cleanups.
    ///
    /// Fails with the make function's error (an [`Unavailable`] one skips the test).
    pub fn get(&'static self, scope: &Scope) -> Result<Shared<T>, BoxError> {
        let instance = off_runtime(|| {
            let mut slot = lock(&self.slot);
            let instance = self.current(&mut slot)?;
            start_use(&instance);
            Ok::<_, BoxError>(instance)
        })?;
        let released = instance.clone();
        scope.add_cleanup(move |_| {
            // Recorded here, on the thread that runs the test's cleanups: the harness's.
            super::usage::record(self);
            off_runtime(|| self.end_use(released))
        });
        Ok(Shared {
            resource: self,
            instance,
        })
    }

    fn slot(&self) -> Option<MutexGuard<'_, Slot<T>>> {
        if !EXITING.load(Ordering::SeqCst) {
            return Some(lock(&self.slot));
        }
        match self.slot.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The current instance, clean and on current dependencies: made, reset or replaced
    /// as needed. Counts no use.
    fn current(&'static self, slot: &mut Slot<T>) -> Result<Arc<Instance<T>>, BoxError> {
        if let Some(unavailable) = &slot.unavailable {
            return Err(unavailable.clone().into());
        }
        if let Some(current) = &slot.current {
            if !slot.dirty && holds_fresh(current) {
                return Ok(current.clone());
            }
        }
        let holds = self.hold_deps()?;
        if let Some(current) = slot.current.clone() {
            let same_deps = generations(&lock(&current.holds)) == generations(&holds);
            if same_deps && current.users() == 0 {
                if let Some(reset) = self.reset {
                    self.unhold_all(holds)?;
                    return self.reset_in_place(slot, current, reset);
                }
            }
        }
        let instance = self.make_instance(slot, holds)?;
        slot.dirty = false;
        if let Some(old) = slot.current.replace(instance.clone()) {
            // An old instance still in use is cleaned when its last use ends.
            if old.is_idle() {
                self.destroy(old)?;
            }
        }
        Ok(instance)
    }

    fn hold_deps(&self) -> Result<Vec<Hold>, BoxError> {
        let mut holds = Vec::with_capacity(self.deps.len());
        for dep in self.deps {
            match dep.hold_current() {
                Ok(hold) => holds.push(hold),
                Err(error) => {
                    // Best effort: the dependency's error is the one worth reporting.
                    let _ = self.unhold_all(holds);
                    return Err(error);
                }
            }
        }
        Ok(holds)
    }

    fn unhold_all(&self, holds: Vec<Hold>) -> Result<(), ResourceCleanError> {
        let mut first_error = None;
        for hold in holds.into_iter().rev() {
            if let Err(error) = hold.resource.unhold(hold) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn reset_in_place(
        &self,
        slot: &mut Slot<T>,
        current: Arc<Instance<T>>,
        reset: HookFn<T>,
    ) -> Result<Arc<Instance<T>>, BoxError> {
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| reset(&current.value)))
            .unwrap_or_else(|payload| Err(panic_message(&*payload).into()));
        {
            let mut stats = lock(&self.stats);
            stats.resets += 1;
            stats.reset_time += started.elapsed();
        }
        if let Err(error) = result {
            // A resource that failed to reset cannot be trusted: drop it so the next
            // user makes a fresh one.
            slot.current = None;
            slot.dirty = false;
            if current.is_idle() {
                let _ = self.destroy(current);
            }
            return Err(error);
        }
        // A new generation tells every dependent made from it that it is stale.
        current
            .generation
            .store(slot.next_generation, Ordering::SeqCst);
        slot.next_generation += 1;
        slot.dirty = false;
        Ok(current)
    }

    fn make_instance(
        &'static self,
        slot: &mut Slot<T>,
        holds: Vec<Hold>,
    ) -> Result<Arc<Instance<T>>, BoxError> {
        registry::register(self);
        let started = Instant::now();
        let made = catch_unwind(AssertUnwindSafe(|| {
            (self.make)(&Deps {
                resource: self.name,
                holds: &holds,
            })
        }))
        .unwrap_or_else(|payload| Err(panic_message(&*payload).into()));
        {
            let mut stats = lock(&self.stats);
            stats.makes += 1;
            stats.make_time += started.elapsed();
        }
        let value = match made {
            Ok(value) => value,
            Err(error) => {
                let _ = self.unhold_all(holds);
                if let Some(unavailable) = error.downcast_ref::<Unavailable>() {
                    slot.unavailable = Some(unavailable.clone());
                }
                return Err(error);
            }
        };
        let generation = slot.next_generation;
        slot.next_generation += 1;
        Ok(Arc::new(Instance {
            value,
            generation: generation.into(),
            users: 0.into(),
            holders: 0.into(),
            holds: Mutex::new(holds),
        }))
    }

    /// Ends one use of `instance`; an instance that was replaced is cleaned when nothing
    /// uses or holds it any more.
    fn end_use(&self, instance: Arc<Instance<T>>) -> Result<(), ResourceCleanError> {
        let Some(slot) = self.slot() else {
            return Ok(());
        };
        let remaining = instance.users.fetch_sub(1, Ordering::SeqCst) - 1;
        let mut result = Ok(());
        if remaining == 0 {
            for hold in lock(&instance.holds).iter() {
                if let Err(error) = hold.resource.deactivate(hold) {
                    result = result.and(Err(error));
                }
            }
        }
        if instance.is_idle() && !is_current(&slot, &instance) {
            result = result.and(self.destroy(instance));
        }
        result
    }

    /// Cleans an instance nothing uses or holds, and lets go of its dependencies.
    fn destroy(&self, instance: Arc<Instance<T>>) -> Result<(), ResourceCleanError> {
        let started = Instant::now();
        let cleaned = match self.clean {
            Some(clean) => catch_unwind(AssertUnwindSafe(|| clean(&instance.value)))
                .unwrap_or_else(|payload| Err(panic_message(&*payload).into())),
            None => Ok(()),
        };
        let holds = std::mem::take(&mut *lock(&instance.holds));
        drop(instance);
        {
            let mut stats = lock(&self.stats);
            stats.cleans += 1;
            stats.clean_time += started.elapsed();
        }
        let released = self.unhold_all(holds);
        cleaned.map_err(|source| ResourceCleanError {
            resource: self.name,
            source,
        })?;
        released
    }

    /// What this resource has cost in this process so far.
    pub fn stats(&self) -> ResourceStats {
        *lock(&self.stats)
    }

    /// The resource's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Runs `work` where no async runtime is current, so make, reset and clean hooks may
/// start a runtime of their own and block on async code even when an async test asks.
fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(result) => result,
            Err(payload) => std::panic::resume_unwind(payload),
        });
    }
    work()
}

fn generations(holds: &[Hold]) -> Vec<u64> {
    holds.iter().map(|hold| hold.generation).collect()
}

fn holds_fresh<T>(instance: &Instance<T>) -> bool {
    lock(&instance.holds).iter().all(Hold::is_fresh)
}

impl<T: Send + Sync + 'static> AnyResource for Resource<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn dependencies(&self) -> &'static [&'static dyn AnyResource] {
        self.deps
    }

    fn stats(&self) -> ResourceStats {
        Resource::stats(self)
    }

    fn release_if_unused(&self) -> Result<bool, ResourceCleanError> {
        let Some(mut slot) = self.slot() else {
            return Ok(false);
        };
        if !slot
            .current
            .as_ref()
            .is_some_and(|current| current.is_idle())
        {
            return Ok(false);
        }
        let current = slot.current.take().expect("checked above");
        slot.dirty = false;
        self.destroy(current)?;
        Ok(true)
    }
}

impl<T: Send + Sync + 'static> Sealed for Resource<T> {
    fn hold_current(&'static self) -> Result<Hold, BoxError> {
        let mut slot = lock(&self.slot);
        let instance = self.current(&mut slot)?;
        instance.holders.fetch_add(1, Ordering::SeqCst);
        let generation = instance.generation();
        Ok(Hold {
            resource: self,
            instance,
            generation,
        })
    }

    fn activate(&self, hold: &Hold) {
        let _slot = lock(&self.slot);
        start_use(downcast::<T>(hold));
    }

    fn deactivate(&self, hold: &Hold) -> Result<(), ResourceCleanError> {
        let instance = downcast_arc::<T>(hold);
        // `end_use` takes the lock itself.
        self.end_use(instance)
    }

    fn unhold(&self, hold: Hold) -> Result<(), ResourceCleanError> {
        let Some(slot) = self.slot() else {
            return Ok(());
        };
        let instance = downcast_arc::<T>(&hold);
        drop(hold);
        instance.holders.fetch_sub(1, Ordering::SeqCst);
        if instance.is_idle() && !is_current(&slot, &instance) {
            return self.destroy(instance);
        }
        Ok(())
    }

    fn is_fresh(&self, generation: u64) -> bool {
        let slot = lock(&self.slot);
        !slot.dirty
            && slot
                .current
                .as_ref()
                .is_some_and(|current| current.generation() == generation && holds_fresh(current))
    }
}

fn downcast<T: Send + Sync + 'static>(hold: &Hold) -> &Instance<T> {
    hold.instance
        .downcast_ref::<Instance<T>>()
        .expect("a hold of a `Resource<T>` holds an `Instance<T>`")
}

fn downcast_arc<T: Send + Sync + 'static>(hold: &Hold) -> Arc<Instance<T>> {
    let instance: Arc<dyn Any + Send + Sync> = hold.instance.clone();
    instance
        .downcast::<Instance<T>>()
        .expect("a hold of a `Resource<T>` holds an `Instance<T>`")
}

impl<T> fmt::Debug for Resource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .finish()
    }
}

/// A test's use of a shared resource: dereferences to the value. The use ends when the
/// test's scope runs its cleanups.
pub struct Shared<T: Send + Sync + 'static> {
    resource: &'static Resource<T>,
    instance: Arc<Instance<T>>,
}

impl<T: Send + Sync + 'static> Shared<T> {
    /// Says that this test changed the resource: the next user gets it reset (or made
    /// again), and every resource made from it is made again too.
    pub fn dirtied(&self) {
        let mut slot = lock(&self.resource.slot);
        let is_current = slot
            .current
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, &self.instance));
        if is_current {
            slot.dirty = true;
        }
    }

    /// The resource this is a use of.
    pub fn resource(&self) -> &'static Resource<T> {
        self.resource
    }
}

impl<T: Send + Sync + 'static> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.instance.value
    }
}

impl<T: Send + Sync + fmt::Debug + 'static> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("resource", &self.resource.name)
            .field("value", &self.instance.value)
            .finish()
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
