//! Versioned wire shapes: a change to what a type puts on the wire without a version
//! bump fails the build's tests, as oslo.versionedobjects' `ObjectVersionChecker` does
//! for OpenStack, for every serde type that crosses a process boundary.
//!
//! `#[derive(Versioned)]` (through `testbed`'s `versioned` feature) describes a type as
//! serde writes it, reading its `#[serde(...)]` attributes: field and variant names
//! after `rename`/`rename_all`, `default`, `skip`, `skip_serializing_if`, `flatten`,
//! `tag`/`content`/`untagged`, `transparent`, `deny_unknown_fields`, `with` as a named
//! opaque, and each field's type, recursively. A field whose type is itself versioned
//! contributes its name and version, so a change is pinned to the type that changed; one
//! that is not contributes its whole shape, so nothing hides behind it. Remote methods
//! (`#[versioned(methods(...))]`) are part of the fingerprint too.
//!
//! The [`Checker`], run as a test, compares every versioned type of the crate with the
//! committed manifest (`versions.json`): a type changed without a bump fails with the
//! diff in words and the version it asks for (a minor bump for a compatible change, a
//! major one for a breaking change, under the [`Profile`] declared); a bumped, new or
//! removed type is proposed in `versions.json.pending` for `cargo testbed versions
//! review`, `accept` or `reject` (under CI nothing is written, and the test fails).
//!
//! ```
//! use testbed::versioned::Versioned;
//!
//! #[derive(Versioned)]
//! #[versioned(version = "1.2")]
//! #[serde(rename_all = "camelCase")]
//! struct Order {
//!     order_id: u64,
//!     #[serde(default)]
//!     discount: Option<u32>,
//!     lines: Vec<Line>,
//! }
//!
//! #[derive(Versioned)]
//! #[versioned(version = "1.0")]
//! struct Line {
//!     sku: String,
//!     quantity: u32,
//! }
//!
//! assert_eq!(Order::VERSION, "1.2");
//! assert!(Order::record().fingerprint.starts_with("1.2-"));
//! ```
#![warn(missing_docs)]

// The README's examples are compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod check;
mod compare;
mod diff;
mod manifest;
mod peer;
mod record;
pub mod review;
mod shape;
mod stable;
mod validate;
mod version;

pub use check::{Checker, Verdict, explain};
pub use compare::{CompareObj, CompareObjError};
pub use diff::{Change, Profile, diff, render};
pub use manifest::{Manifest, pending_path};
pub use peer::{OlderPeer, PeerTripError};
pub use record::{
    Backport, BackportRoutine, Method, Record, Registration, TemporaryRegistration, Versioned,
    backport_routine, register_for, registered,
};
pub use shape::{Body, Field, Shape, Tagging, Ty, Variant, WireShape, inline};
pub use stable::stable_json;
pub use validate::validate;
pub use version::{BadVersion, Version};

use std::path::PathBuf;

/// What checking the versioned types against the manifest can give.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VersionCheckError {
    /// A type's wire shape differs from the manifest; the report says how, per type.
    #[error("match the versioned types with `{}`:\n{report}", manifest.display())]
    Mismatch {
        /// The manifest.
        manifest: PathBuf,
        /// One line per type that differs, each change below it.
        report: String,
    },
    /// The manifest is not JSON of the manifest's shape.
    #[error("read manifest `{}` (hint: it is written by the check and `cargo testbed versions accept`; restore it from version control)", path.display())]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A file could not be read or written.
    #[error("use `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No versioned type of the crate is linked into the test binary.
    #[error(
        "find a versioned type of crate `{crate_name}` in this test binary (hint: run the check \
         from the crate's own unit tests, a `#[cfg(test)]` module in `src/`, where every \
         `#[derive(Versioned)]` of the crate is linked; an integration test in `tests/` \
         links only the parts of the crate it uses)"
    )]
    NoneFound {
        /// The crate's lib name.
        crate_name: String,
    },
    /// Two versioned types of the crate have the same wire name.
    #[error(
        "tell versioned types `{name}` in `{}` and `{}` apart (hint: give one another wire \
         name with `#[serde(rename = \"...\")]`)",
        modules[0], modules[1]
    )]
    SameName {
        /// The name both have.
        name: String,
        /// The modules declaring them.
        modules: [&'static str; 2],
    },
    /// A declared version is not `major.minor`.
    #[error(transparent)]
    BadVersion(#[from] BadVersion),
}

/// Checks every versioned type of the calling crate against `versions.json` in its
/// folder (or the manifest named), under the self-describing profile (or the one named):
/// a test's body.
///
/// ```no_run
/// #[test]
/// fn wire_versions() {
///     testbed::versioned::check!();
/// }
///
/// #[test]
/// fn bincode_versions() {
///     testbed::versioned::check!("wire/bincode-versions.json", testbed::versioned::Profile::Positional);
/// }
/// ```
#[macro_export]
macro_rules! check {
    () => {
        $crate::check!("versions.json")
    };
    ($manifest:expr) => {
        $crate::check!($manifest, $crate::Profile::SelfDescribing)
    };
    ($manifest:expr, $profile:expr) => {
        if let Err(error) = $crate::Checker::new(
            env!("CARGO_PKG_NAME"),
            ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($manifest),
        )
        .profile($profile)
        .run()
        {
            panic!("{error}");
        }
    };
}

/// What the derive expands to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use serde_json;
}

impl<T: WireShape, E: WireShape> WireShape for Result<T, E> {
    fn wire_shape() -> Ty {
        Ty::Inline(Box::new(Shape {
            name: "Result".to_owned(),
            tagging: Tagging::External,
            transparent: false,
            deny_unknown_fields: false,
            body: Body::Enum(vec![
                Variant {
                    name: "Ok".to_owned(),
                    body: Body::Newtype(T::wire_shape()),
                },
                Variant {
                    name: "Err".to_owned(),
                    body: Body::Newtype(E::wire_shape()),
                },
            ]),
        }))
    }
}
