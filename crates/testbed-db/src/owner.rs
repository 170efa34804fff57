//! Who owns a database: this process's token, the names it gives databases, and what is
//! printed about them (URLs with the password redacted).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Every database testbed creates starts with this; nothing else is ever dropped.
pub const NAME_PREFIX: &str = "testbed_";

/// The environment variable that keeps a failing test's database (`1`) and prints its URL.
pub const KEEP_FAILED_ENV: &str = "TESTBED_KEEP_FAILED";

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// This process's owner token: 12 hex digits, unique per process, part of the name of
/// every database it creates and of its lease on each server.
pub(crate) fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(std::process::id().to_le_bytes());
        hasher.update(nanos.to_le_bytes());
        hasher.update(format!("{:p}", &nanos));
        hex(&hasher.finalize()[..6])
    })
}

/// A fresh database name owned by this process: `testbed_<token>_<n>`.
pub(crate) fn database_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{NAME_PREFIX}{}_{}",
        token(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The owner token inside a name made by [`database_name`], if it is one.
pub(crate) fn owner_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (token, serial) = rest.split_once('_')?;
    let is_token = token.len() == 12 && token.bytes().all(|b| b.is_ascii_hexdigit());
    let is_serial = !serial.is_empty() && serial.bytes().all(|b| b.is_ascii_digit());
    (is_token && is_serial).then_some(token)
}

/// Whether `TESTBED_KEEP_FAILED` asks to keep failing tests' databases.
pub(crate) fn keep_failed() -> bool {
    std::env::var(KEEP_FAILED_ENV).is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

/// `url` with any password replaced by `***`.
///
/// ```
/// assert_eq!(
///     testbed_db::redact("postgres://app:s3cret@db:5432/x"),
///     "postgres://app:***@db:5432/x"
/// );
/// assert_eq!(testbed_db::redact("sqlite::memory:"), "sqlite::memory:");
/// ```
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_owner() {
        let name = database_name();
        assert!(name.starts_with(NAME_PREFIX));
        assert_eq!(owner_of(&name), Some(token()));
        assert_eq!(owner_of("testbed_tpl_0123456789abcdef"), None);
        assert_eq!(owner_of("testbed_notatoken_1"), None);
        assert_eq!(owner_of("app_0123456789ab_1"), None);
    }

    #[test]
    fn redacts_only_passwords() {
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
        assert!(!redact("postgres://u:pw@h/db").contains("pw"));
    }
}
