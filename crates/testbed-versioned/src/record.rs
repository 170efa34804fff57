//! What is recorded of one version of a type: its shape, its remote methods, and the
//! fingerprint of both; [`Versioned`], the trait `#[derive(Versioned)]` implements, and
//! the registration through which the check finds every versioned type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::shape::{Shape, Ty, WireShape};
use crate::version::Version;

/// A method called remotely on a versioned type (oslo's remotable methods): its
/// signature is part of the type's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Method {
    /// The method's name.
    pub name: String,
    /// Its arguments, by name, `self` left out.
    pub args: Vec<(String, Ty)>,
    /// What it returns (`()` when nothing).
    pub returns: Ty,
}

/// One version of a type as the manifest keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `<version>-<hash of the shape and methods>`.
    pub fingerprint: String,
    /// The shape.
    pub shape: Shape,
    /// The remote methods, when it declares any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<Method>,
    /// The versioned types it holds, with the version of each (oslo's relationships):
    /// a child's new version changes this record's fingerprint, so it comes with this
    /// type's bump.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, String>,
}

impl Record {
    /// The record of `shape` and `methods` at `version`.
    ///
    /// ```
    /// use testbed_versioned::{Body, Record, Shape, Tagging};
    ///
    /// let shape = Shape { name: "Ping".into(), tagging: Tagging::External, transparent: false,
    ///     deny_unknown_fields: false, body: Body::Unit };
    /// let record = Record::new("1.0", shape, Vec::new());
    /// assert!(record.fingerprint.starts_with("1.0-"));
    /// ```
    pub fn new(version: &str, shape: Shape, methods: Vec<Method>) -> Self {
        let canonical = serde_json::to_string(&(&shape, &methods))
            .expect("a shape serializes: it holds only strings, numbers and lists");
        let digest = Sha256::digest(canonical.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let mut children = BTreeMap::new();
        let mut record_child = |ty: &Ty| {
            if let Ty::Versioned { name, version } = ty {
                children.insert(name.clone(), version.clone());
            }
        };
        shape.visit_types(&mut record_child);
        for method in &methods {
            for (_, ty) in &method.args {
                ty.visit(&mut record_child);
            }
            method.returns.visit(&mut record_child);
        }
        Record {
            fingerprint: format!("{version}-{hash}"),
            shape,
            methods,
            children,
        }
    }
}

/// A type whose wire shape is versioned: what `#[derive(Versioned)]` implements with
/// `#[versioned(version = "...")]`.
pub trait Versioned: WireShape {
    /// The type's name in the manifest.
    const NAME: &'static str;
    /// Its declared version, `major.minor`.
    const VERSION: &'static str;
    /// Its whole shape (a versioned field contributes only its name and version).
    fn shape() -> Shape;
    /// Its remote methods (`#[versioned(methods(...))]`).
    fn methods() -> Vec<Method> {
        Vec::new()
    }
    /// This version's record: shape, methods, fingerprint.
    fn record() -> Record {
        Record::new(Self::VERSION, Self::shape(), Self::methods())
    }
}

/// A versioned type that turns its values into their form at an older version (oslo's
/// `obj_make_compatible`), for peers that still speak it. With
/// `#[versioned(version = "...", backport)]` the check backports every sample to every
/// older version the manifest records and validates each result against that version's
/// shape; a type with older versions and no routine is reported.
///
/// ```
/// use serde::Serialize;
/// use testbed::versioned::{Backport, Version, Versioned};
///
/// #[derive(Serialize, Versioned)]
/// #[versioned(version = "1.1", backport)]
/// struct Ping {
///     seq: u64,
///     #[serde(default)]
///     sent_by: String, // added in 1.1
/// }
///
/// impl Backport for Ping {
///     fn samples() -> Vec<Self> {
///         vec![Ping { seq: 1, sent_by: "a".into() }]
///     }
///
///     fn backport(mut value: serde_json::Value, version: Version) -> Result<serde_json::Value, String> {
///         if version < (Version { major: 1, minor: 1 }) {
///             value.as_object_mut().ok_or("not an object")?.remove("sent_by");
///         }
///         Ok(value)
///     }
/// }
/// # fn main() {}
/// ```
pub trait Backport: Versioned + Serialize + Sized {
    /// The values the check backports (as many kinds of value as the type has).
    fn samples() -> Vec<Self>;

    /// `value`, this type at [`Versioned::VERSION`] as JSON, in its form at `version`
    /// (older); an error says why it cannot be.
    fn backport(value: serde_json::Value, version: Version) -> Result<serde_json::Value, String>;
}

/// A type's backport routine and samples, without its type: what a registration keeps.
#[derive(Debug, Clone)]
pub struct BackportRoutine {
    /// The samples, as JSON.
    pub samples: Vec<serde_json::Value>,
    /// The routine.
    pub backport: fn(serde_json::Value, Version) -> Result<serde_json::Value, String>,
}

/// `T`'s routine and samples. What the derive registers for `#[versioned(backport)]`.
pub fn backport_routine<T: Backport>() -> BackportRoutine {
    BackportRoutine {
        samples: T::samples()
            .iter()
            .map(|sample| serde_json::to_value(sample).expect("a sample serializes to JSON"))
            .collect(),
        backport: T::backport,
    }
}

/// A versioned type, registered by its derive so that the check finds it.
#[derive(Debug)]
pub struct Registration {
    /// The type's name.
    pub name: &'static str,
    /// Its declared version.
    pub version: &'static str,
    /// The module it is declared in (`module_path!()`): its crate is the first segment.
    pub module: &'static str,
    /// Its record.
    pub record: fn() -> Record,
    /// Its backport routine, with `#[versioned(backport)]`.
    pub backport: Option<fn() -> BackportRoutine>,
}

inventory::collect!(Registration);

impl Registration {
    /// The registration of `T`, declared in module `module` (its crate is the first
    /// segment): for a type the derive does not register itself, such as an
    /// instantiation of a generic versioned type, with [`register_for`].
    pub const fn of<T: Versioned>(module: &'static str) -> Registration {
        Registration {
            name: T::NAME,
            version: T::VERSION,
            module,
            record: T::record,
            backport: None,
        }
    }
}

/// Registrations added for a while (by a test), besides the derive's.
static TEMPORARY: std::sync::Mutex<Vec<&'static Registration>> = std::sync::Mutex::new(Vec::new());

/// Keeps a registration made by [`register_for`] until dropped.
#[derive(Debug)]
#[must_use = "the registration ends when this is dropped"]
pub struct TemporaryRegistration {
    registration: &'static Registration,
}

impl Drop for TemporaryRegistration {
    fn drop(&mut self) {
        let mut temporary = TEMPORARY.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = temporary
            .iter()
            .position(|r| std::ptr::eq(*r, self.registration))
        {
            temporary.remove(at);
        }
    }
}

/// Registers `registration` until the returned guard drops (`testbed::versioned::
/// register_in` ties it to a test's scope). While it lives, the check sees the type
/// as if the derive had registered it, in every thread of the process.
///
/// ```
/// use testbed_versioned::{Registration, Versioned, register_for, registered};
///
/// #[derive(testbed::versioned::Versioned)]
/// #[versioned(version = "1.0")]
/// struct Envelope<T> { body: T }
///
/// static ENVELOPE: Registration = Registration::of::<Envelope<u32>>("my_app::wire");
/// let guard = register_for(&ENVELOPE);
/// assert!(registered("my_app").iter().any(|r| r.name == "Envelope"));
/// drop(guard);
/// assert!(registered("my_app").is_empty());
/// ```
pub fn register_for(registration: &'static Registration) -> TemporaryRegistration {
    TEMPORARY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(registration);
    TemporaryRegistration { registration }
}

/// Every versioned type declared in crate `crate_name` (its lib name, `my_app`) and
/// linked into this binary (or registered for now, see [`register_for`]), by name.
pub fn registered(crate_name: &str) -> Vec<&'static Registration> {
    let temporary = TEMPORARY.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut found: Vec<&'static Registration> = inventory::iter::<Registration>
        .into_iter()
        .chain(temporary)
        .filter(|registration| registration.module.split("::").next() == Some(crate_name))
        .collect();
    found.sort_by_key(|registration| registration.name);
    found
}
