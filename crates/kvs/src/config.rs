//! The process-wide settings regions read when they are built.
//!
//! A region takes a snapshot of the [`Config`] in
//! [`RegionBuilder::build`](crate::RegionBuilder::build), so changing it affects regions
//! built afterwards only.

use std::sync::RwLock;
use std::time::Duration;

/// Settings shared by every region of the process.
///
/// ```
/// use kvs::Config;
///
/// let defaults = Config::default();
/// assert!(defaults.enable_key_mangler);
/// assert_eq!(defaults.default_lock_timeout, std::time::Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Whether regions mangle keys at all. When `false`, every region stores keys as the
    /// caller spells them, whatever mangler it or its backend asks for.
    pub enable_key_mangler: bool,
    /// How long a lock may be held when the region does not say.
    pub default_lock_timeout: Duration,
    /// How many times a region tries to take a held lock when it does not say.
    pub default_max_lock_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enable_key_mangler: true,
            default_lock_timeout: Duration::from_secs(5),
            default_max_lock_attempts: 15,
        }
    }
}

static GLOBAL: RwLock<Option<Config>> = RwLock::new(None);

impl Config {
    /// A copy of the current process-wide settings.
    pub fn global() -> Config {
        GLOBAL
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Replaces the process-wide settings and returns the previous ones, so a caller can
    /// put them back.
    ///
    /// ```
    /// use kvs::Config;
    ///
    /// let previous = Config::replace_global(Config { enable_key_mangler: false, ..Config::global() });
    /// assert!(!Config::global().enable_key_mangler);
    /// Config::replace_global(previous);
    /// assert!(Config::global().enable_key_mangler);
    /// ```
    pub fn replace_global(config: Config) -> Config {
        let mut global = GLOBAL
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        global.replace(config).unwrap_or_default()
    }
}
