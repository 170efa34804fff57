//! [`Atom`]: what the engine tells storage about a task or retry it will run: its name,
//! kind, version, the names its result provides and the arguments it requires.

use std::collections::BTreeMap;

use crate::detail::AtomKind;

/// Where a provided name sits in an atom's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultIndex {
    /// The whole result.
    Whole,
    /// The item at this position of a list result.
    Position(usize),
    /// The value at this key of an object result.
    Key(String),
}

/// The names an atom's result provides to later atoms.
///
/// ```
/// use flowstore::{Provides, ResultIndex};
///
/// let provides = Provides::positions(["foo", "bar"]);
/// assert_eq!(provides.mapping()[1], ("bar".to_owned(), ResultIndex::Position(1)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provides(Vec<(String, ResultIndex)>);

impl Provides {
    /// Provides nothing.
    pub fn nothing() -> Self {
        Provides::default()
    }

    /// The whole result, under one name.
    pub fn whole(name: impl Into<String>) -> Self {
        Provides(vec![(name.into(), ResultIndex::Whole)])
    }

    /// The items of a list result, by position: the first name is item 0.
    pub fn positions<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Provides(
            names
                .into_iter()
                .enumerate()
                .map(|(position, name)| (name.into(), ResultIndex::Position(position)))
                .collect(),
        )
    }

    /// The values of an object result, each under its own key.
    pub fn keys<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Provides(
            names
                .into_iter()
                .map(|name| {
                    let name = name.into();
                    (name.clone(), ResultIndex::Key(name))
                })
                .collect(),
        )
    }

    /// Each provided name with where it sits in the result.
    pub fn mapping(&self) -> &[(String, ResultIndex)] {
        &self.0
    }
}

/// A task or retry as the engine describes it to [`Storage::ensure_atom`](crate::Storage::ensure_atom).
///
/// ```
/// use flowstore::{Atom, AtomKind, Provides};
///
/// let atom = Atom::task("resize")
///     .with_version("3.11")
///     .with_provides(Provides::whole("image"))
///     .with_requires(["path"]);
/// assert_eq!(atom.kind(), AtomKind::Task);
/// assert_eq!(atom.rebind()["path"], "path");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    name: String,
    kind: AtomKind,
    version: String,
    provides: Provides,
    rebind: BTreeMap<String, String>,
}

impl Atom {
    /// A task named `name`, version `1.0`, providing and requiring nothing.
    pub fn task(name: impl Into<String>) -> Self {
        Atom::new(name, AtomKind::Task)
    }

    /// A retry named `name`, version `1.0`, providing and requiring nothing.
    pub fn retry(name: impl Into<String>) -> Self {
        Atom::new(name, AtomKind::Retry)
    }

    fn new(name: impl Into<String>, kind: AtomKind) -> Self {
        Atom {
            name: name.into(),
            kind,
            version: "1.0".to_owned(),
            provides: Provides::nothing(),
            rebind: BTreeMap::new(),
        }
    }

    /// Sets the version of the atom's code.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the names its result provides.
    pub fn with_provides(mut self, provides: Provides) -> Self {
        self.provides = provides;
        self
    }

    /// Adds arguments it requires, each bound to the provided name of the same name.
    pub fn with_requires<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        for name in names {
            let name = name.into();
            self.rebind.insert(name.clone(), name);
        }
        self
    }

    /// Binds argument `argument` to the provided name `name`.
    pub fn with_rebind(mut self, argument: impl Into<String>, name: impl Into<String>) -> Self {
        self.rebind.insert(argument.into(), name.into());
        self
    }

    /// The atom's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Task or retry.
    pub fn kind(&self) -> AtomKind {
        self.kind
    }

    /// The version of its code.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The names its result provides.
    pub fn provides(&self) -> &Provides {
        &self.provides
    }

    /// Its arguments, each bound to the provided name it is fetched from.
    pub fn rebind(&self) -> &BTreeMap<String, String> {
        &self.rebind
    }
}
