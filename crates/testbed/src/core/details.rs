//! Named pieces of evidence (logs, kept paths, URLs) attached to a test and printed when
//! it fails.

use std::fmt;
use std::sync::{Arc, Mutex};

/// One piece of evidence: text, or raw bytes.
///
/// ```
/// use testbed::Detail;
///
/// let url = Detail::from("postgres://127.0.0.1/testbed_x");
/// assert_eq!(url.to_string(), "postgres://127.0.0.1/testbed_x");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Human-readable text, printed as is.
    Text(String),
    /// Raw bytes, printed as text when they are UTF-8 and as a length and hex prefix otherwise.
    Bytes(Vec<u8>),
}

impl From<String> for Detail {
    fn from(text: String) -> Self {
        Detail::Text(text)
    }
}

impl From<&str> for Detail {
    fn from(text: &str) -> Self {
        Detail::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Detail {
    fn from(bytes: Vec<u8>) -> Self {
        Detail::Bytes(bytes)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Text(text) => f.write_str(text),
            Detail::Bytes(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => f.write_str(text),
                Err(_) => {
                    write!(f, "<{} bytes, not UTF-8>", bytes.len())?;
                    for byte in bytes.iter().take(64) {
                        write!(f, " {byte:02x}")?;
                    }
                    if bytes.len() > 64 {
                        f.write_str(" ...")?;
                    }
                    Ok(())
                }
            },
        }
    }
}

/// The details of one test, shared by its scope and every fixture in it.
///
/// Cloning gives another handle to the same list, so a fixture can keep one and attach
/// evidence from a cleanup. A name used twice gets a suffix (`log`, `log-1`, `log-2`), so
/// fixtures built from fixtures never overwrite each other's evidence.
///
/// ```
/// use testbed::{Detail, Details};
///
/// let details = Details::default();
/// assert_eq!(details.attach("log", "first"), "log");
/// assert_eq!(details.attach("log", "second"), "log-1");
/// assert_eq!(details.snapshot()[1], ("log-1".to_owned(), Detail::from("second")));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Details {
    entries: Arc<Mutex<Vec<(String, Detail)>>>,
}

impl Details {
    /// Attaches `detail` under `name` and returns the name it was stored under.
    pub fn attach(&self, name: impl Into<String>, detail: impl Into<Detail>) -> String {
        let name = name.into();
        let mut entries = lock(&self.entries);
        let taken = |candidate: &str| entries.iter().any(|(n, _)| n == candidate);
        let mut unique = name.clone();
        let mut suffix = 1;
        while taken(&unique) {
            unique = format!("{name}-{suffix}");
            suffix += 1;
        }
        entries.push((unique.clone(), detail.into()));
        unique
    }

    /// A copy of every detail attached so far, in attachment order.
    pub fn snapshot(&self) -> Vec<(String, Detail)> {
        lock(&self.entries).clone()
    }

    /// Whether nothing was attached.
    pub fn is_empty(&self) -> bool {
        lock(&self.entries).is_empty()
    }
}

/// Locks a mutex, ignoring poisoning: a panicking test must not stop its own cleanup.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
