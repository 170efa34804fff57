//! The fixture traits, and how fixtures are built from fixtures.

use std::future::Future;
use std::ops::{Deref, DerefMut};

use super::outcome::Outcome;
use super::report::BoxError;
use super::scope::Scope;

/// A value that sets itself up inside a [`Scope`] and registers its own cleanups there.
///
/// A test receives a fixture by naming its type as an argument of a `#[testbed::test]`
/// function. Setup may fail; whatever cleanups it registered before failing still run.
///
/// ```
/// use std::path::PathBuf;
/// use testbed::{BoxError, Fixture, Scope};
///
/// /// A scratch file, removed when the test ends.
/// struct ScratchFile(PathBuf);
///
/// impl Fixture for ScratchFile {
///     fn setup(scope: &Scope) -> Result<Self, BoxError> {
///         let path = std::env::temp_dir().join(format!("scratch-{}", std::process::id()));
///         std::fs::write(&path, b"hello")?;
///         let cleanup_path = path.clone();
///         scope.add_cleanup(move |_| std::fs::remove_file(cleanup_path));
///         Ok(ScratchFile(path))
///     }
/// }
///
/// #[testbed::test]
/// fn reads_scratch(file: ScratchFile) {
///     assert_eq!(std::fs::read(&file.0).unwrap(), b"hello");
/// }
/// # reads_scratch();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a fixture: a test's arguments are `&Scope` and fixtures",
    label = "not a `testbed::Fixture`",
    note = "take the scope by reference (`scope: &Scope`); a fixture is a type that implements `testbed::Fixture`",
    note = "a type that implements only `testbed::AsyncFixture` needs an `async fn` test"
)]
pub trait Fixture: Sized {
    /// Sets the fixture up, registering its cleanups in `scope`.
    fn setup(scope: &Scope) -> Result<Self, BoxError>;

    /// Brings a fixture back to its just-set-up state. `scope` is the fixture's own scope
    /// (see [`Scope::use_resettable`]).
    ///
    /// The default runs the fixture's cleanups and sets it up again; override it where a
    /// cheaper reset exists (deleting rows instead of recreating a database, say).
    fn reset(&mut self, scope: &Scope) -> Result<(), BoxError> {
        scope.finish(Outcome::Passed)?;
        *self = Self::setup(scope)?;
        Ok(())
    }
}

/// A fixture whose setup is async. Every [`Fixture`] is also an `AsyncFixture`, so an
/// `async` test can take either.
///
/// ```
/// use testbed::{AsyncFixture, BoxError, Scope};
///
/// struct Greeting(String);
///
/// impl AsyncFixture for Greeting {
///     async fn setup(scope: &Scope) -> Result<Self, BoxError> {
///         scope.add_async_cleanup(|_| async { /* close a connection, say */ });
///         Ok(Greeting("hello".into()))
///     }
/// }
///
/// #[testbed::test]
/// async fn greets(greeting: Greeting) {
///     assert_eq!(greeting.0, "hello");
/// }
/// # greets();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a fixture: a test's arguments are `&Scope` and fixtures",
    label = "not a `testbed::AsyncFixture` or `testbed::Fixture`",
    note = "take the scope by reference (`scope: &Scope`); a fixture is a type that implements `testbed::Fixture`, or `testbed::AsyncFixture` for an async setup"
)]
pub trait AsyncFixture: Sized + Send {
    /// Sets the fixture up, registering its cleanups in `scope`.
    fn setup(scope: &Scope) -> impl Future<Output = Result<Self, BoxError>> + Send;
}

impl<T: Fixture + Send> AsyncFixture for T {
    fn setup(scope: &Scope) -> impl Future<Output = Result<Self, BoxError>> + Send {
        std::future::ready(<T as Fixture>::setup(scope))
    }
}

impl Scope {
    /// Sets up fixture `T` in a child scope whose cleanups run, as one step, in this
    /// scope's last-in-first-out order. Its details are merged into the test's.
    ///
    /// This is how a fixture is built from other fixtures.
    ///
    /// ```
    /// use testbed::{BoxError, Fixture, Scope, TempDir};
    ///
    /// struct Workspace { dir: TempDir }
    ///
    /// impl Fixture for Workspace {
    ///     fn setup(scope: &Scope) -> Result<Self, BoxError> {
    ///         let dir = scope.use_fixture::<TempDir>()?;
    ///         std::fs::create_dir(dir.path().join("src"))?;
    ///         Ok(Workspace { dir })
    ///     }
    /// }
    /// # let scope = Scope::new("doc");
    /// # let ws = scope.use_fixture::<Workspace>().unwrap();
    /// # assert!(ws.dir.path().join("src").is_dir());
    /// # scope.finish(testbed::Outcome::Passed).unwrap();
    /// ```
    #[track_caller]
    pub fn use_fixture<T: Fixture>(&self) -> Result<T, BoxError> {
        T::setup(&self.child())
    }

    /// Sets up async fixture `T` in a child scope, as [`use_fixture`](Scope::use_fixture).
    #[track_caller]
    pub fn use_async_fixture<T: AsyncFixture>(
        &self,
    ) -> impl Future<Output = Result<T, BoxError>> + Send {
        let child = self.child();
        async move { T::setup(&child).await }
    }

    /// Sets up fixture `T` in a child scope kept beside it, so the test can
    /// [`reset`](Resettable::reset) it.
    ///
    /// ```
    /// use testbed::{Outcome, Scope, TempDir};
    ///
    /// let scope = Scope::new("reset");
    /// let mut dir = scope.use_resettable::<TempDir>().unwrap();
    /// let first = dir.path().to_owned();
    /// dir.reset().unwrap();
    /// assert_ne!(dir.path(), first);
    /// scope.finish(Outcome::Passed).unwrap();
    /// ```
    #[track_caller]
    pub fn use_resettable<T: Fixture>(&self) -> Result<Resettable<T>, BoxError> {
        let scope = self.child();
        let value = T::setup(&scope)?;
        Ok(Resettable { value, scope })
    }
}

/// A fixture together with its own scope, so it can be reset in place. Dereferences to
/// the fixture.
#[derive(Debug)]
pub struct Resettable<T> {
    value: T,
    scope: Scope,
}

impl<T: Fixture> Resettable<T> {
    /// Resets the fixture with [`Fixture::reset`].
    pub fn reset(&mut self) -> Result<(), BoxError> {
        self.value.reset(&self.scope)
    }

    /// The fixture's own scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl<T> Deref for Resettable<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Resettable<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}
