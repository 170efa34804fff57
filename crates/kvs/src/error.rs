//! The one error type of the store: every operation of a region, a backend or the
//! registry fails with a [`KvsError`].

use std::time::Duration;

/// A boxed error from a backend's own client, kept as the [`KvsError::Backend`] source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an operation of the store failed.
///
/// [`KvsError::NotFound`] is the one callers usually match on: a missing key is an
/// answer, not a fault.
///
/// ```
/// let error = kvs::KvsError::NotFound { region: "tokens".into(), keys: vec!["abc".into()] };
/// assert_eq!(error.to_string(), "key `abc` not found in region `tokens`");
/// assert!(error.is_not_found());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvsError {
    /// One or more keys are missing (a get, a get of several keys, or a delete).
    #[error("{} not found in region `{region}`", describe_keys(keys))]
    NotFound {
        /// The region asked.
        region: String,
        /// Every key that was missing, as the caller spelled it.
        keys: Vec<String>,
    },

    /// No backend is registered under the name a region was configured with.
    #[error(
        "unknown backend `{name}` (hint: registered backends: {})",
        list(registered)
    )]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// The names registered when it was asked.
        registered: Vec<String>,
    },

    /// A backend name is taken by another factory.
    #[error(
        "backend `{name}` is already registered (hint: unregister it first or register under another name)"
    )]
    AlreadyRegistered {
        /// The name taken.
        name: String,
    },

    /// A backend was given an option it does not know.
    #[error(
        "unknown option `{option}` for backend `{backend}` (hint: it takes: {})",
        list(known)
    )]
    UnknownOption {
        /// The backend's registered name.
        backend: String,
        /// The option it did not take.
        option: String,
        /// The options it takes.
        known: Vec<String>,
    },

    /// A backend option has a value the backend cannot use.
    #[error("invalid option `{option}` for backend `{backend}`: {reason}")]
    InvalidOption {
        /// The backend's registered name.
        backend: String,
        /// The option.
        option: String,
        /// What is wrong with its value (never the value of a secret).
        reason: String,
    },

    /// A region setting has a value the region cannot use.
    #[error("invalid setting `{setting}` for region `{region}`: {reason}")]
    InvalidSetting {
        /// The region being built.
        region: String,
        /// The setting.
        setting: String,
        /// What is wrong with its value.
        reason: String,
    },

    /// The region asks for key expiry and the backend has none.
    #[error(
        "backend `{backend}` cannot expire keys (hint: drop `expire_time` from region `{region}` or use a backend with expiry, such as `memory` or `redis`)"
    )]
    ExpiryUnsupported {
        /// The region being built.
        region: String,
        /// The backend's name.
        backend: String,
    },

    /// A lock was used for an action on another key.
    #[error("lock on key `{lock_key}` cannot guard an action on key `{target_key}`")]
    LockKeyMismatch {
        /// The key the lock holds.
        lock_key: String,
        /// The key the action was for.
        target_key: String,
    },

    /// A lock was held too long: its backend entry may already have expired, so the
    /// action it was to guard was not run.
    #[error(
        "lock on key `{key}` timed out: held {held:?}, limit {timeout:?} (hint: do less under the lock or raise `lock_timeout`)"
    )]
    LockTimeout {
        /// The locked key.
        key: String,
        /// How long the lock had been held.
        held: Duration,
        /// The region's lock timeout.
        timeout: Duration,
    },

    /// Every attempt to take a lock found it held.
    #[error(
        "lock on key `{key}` still held by someone else after {attempts} attempts (hint: raise `max_lock_attempts`, or look for a holder that never releases)"
    )]
    LockAttemptsExhausted {
        /// The key.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// A value could not be turned into bytes for the backend.
    #[error("cannot encode the value of key `{key}`")]
    Encode {
        /// The key being set.
        key: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// Stored bytes are not a value of the type asked for.
    #[error("cannot decode the value of key `{key}` as the type asked for")]
    Decode {
        /// The key read.
        key: String,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// The backend's own client failed (a lost connection, say).
    #[error("backend `{backend}` failed")]
    Backend {
        /// The backend's name.
        backend: String,
        /// The client's error.
        #[source]
        source: BoxError,
    },
}

impl KvsError {
    /// Whether this is [`KvsError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, KvsError::NotFound { .. })
    }

    /// Wraps an error of a backend's client.
    pub fn backend(backend: impl Into<String>, source: impl Into<BoxError>) -> Self {
        KvsError::Backend {
            backend: backend.into(),
            source: source.into(),
        }
    }
}

fn describe_keys(keys: &[String]) -> String {
    match keys {
        [one] => format!("key `{one}`"),
        many => format!("keys {}", list(many)),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::KvsError;

    #[test]
    fn not_found_names_every_key() {
        let error = KvsError::NotFound {
            region: "r".into(),
            keys: vec!["a".into(), "b".into()],
        };
        assert_eq!(error.to_string(), "keys `a`, `b` not found in region `r`");
    }

    #[test]
    fn unknown_backend_lists_registered_ones() {
        let error = KvsError::UnknownBackend {
            name: "mem".into(),
            registered: vec!["memory".into(), "redis".into()],
        };
        assert_eq!(
            error.to_string(),
            "unknown backend `mem` (hint: registered backends: `memory`, `redis`)"
        );
    }
}
