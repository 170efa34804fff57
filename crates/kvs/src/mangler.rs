//! Key manglers: the function that turns a caller's key into the key a backend stores.
//!
//! Mangling bounds key length and spreads keys evenly (SHA-1 by default); a backend
//! with its own key rules can supply its own mangler.

use std::fmt;
use std::sync::Arc;

type MangleFn = dyn Fn(&str) -> String + Send + Sync;

/// A named key-mangling function. Cheap to clone.
///
/// The name makes a region's choice visible (`region.key_mangler().name()`) and shows in
/// `Debug` output; two manglers are equal when their names are.
///
/// ```
/// use kvs::KeyMangler;
///
/// let sha1 = KeyMangler::sha1();
/// assert_eq!(sha1.name(), "sha1");
/// assert_eq!(sha1.mangle("foo"), "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33");
///
/// let prefixed = KeyMangler::new("prefixed", |key| format!("app_{key}"));
/// assert_eq!(prefixed.mangle("foo"), "app_foo");
/// ```
#[derive(Clone)]
pub struct KeyMangler {
    name: Arc<str>,
    mangle: Arc<MangleFn>,
}

impl KeyMangler {
    /// A mangler named `name` that applies `mangle`.
    pub fn new(
        name: impl Into<String>,
        mangle: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        KeyMangler {
            name: Arc::from(name.into()),
            mangle: Arc::new(mangle),
        }
    }

    /// The default mangler: the lowercase hex SHA-1 of the key, always 40 characters.
    pub fn sha1() -> Self {
        KeyMangler::new("sha1", |key| {
            sha1_smol::Sha1::from(key.as_bytes()).digest().to_string()
        })
    }

    /// The mangler's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Mangles `key`.
    pub fn mangle(&self, key: &str) -> String {
        (self.mangle)(key)
    }
}

impl fmt::Debug for KeyMangler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyMangler").field(&self.name).finish()
    }
}

impl PartialEq for KeyMangler {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KeyMangler {}
