//! Who owns a database: this process's token, the names it gives databases, and what is
//! printed about them (URLs with the password redacted).

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::sync::OnceLock;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use sha2::{Digest, Sha256};

/// Every database testbed creates starts with this; nothing else is ever dropped.
pub const NAME_PREFIX: &str = "testbed_";

/// The prefix of templates' names, on every backend: `testbed_tpl_<hash>` (a SQLite
/// template's file adds `.sqlite`).
pub(crate) const TEMPLATE_PREFIX: &str = "testbed_tpl_";

/// The prefix of pooled databases' names (PostgreSQL `Recycle`, MySQL):
/// `testbed_pool_<template hash>_<serial>`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) const POOL_PREFIX: &str = "testbed_pool_";

/// The environment variable that keeps a failing test's database (`1`) and prints its URL.
pub const KEEP_FAILED_ENV: &str = "TESTBED_KEEP_FAILED";

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// This process's owner token: 12 hex digits, unique per process, part of the name of
/// every database it creates and of its lease on each server.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
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
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn database_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{NAME_PREFIX}{}_{}",
        token(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The owner token inside a name made by [`database_name`], if it is one.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
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

/// The query parameters of a database URL whose values are secrets.
const SECRET_PARAMETERS: [&str; 4] = ["password", "sslpassword", "sslkey", "passfile"];

/// `url` with every secret replaced by `***`: the password of the user info, and the
/// values of the query parameters `password`, `sslpassword`, `sslkey` and `passfile`.
/// A URL that does not parse is redacted by the same rules on its text, so that even a
/// malformed URL is never printed with its secret.
///
/// ```
/// assert_eq!(
///     testbed_db::redact("postgres://app:s3cret@db:5432/x"),
///     "postgres://app:***@db:5432/x"
/// );
/// assert_eq!(
///     testbed_db::redact("postgres://app@db/x?sslmode=require&password=s3cret"),
///     "postgres://app@db/x?sslmode=require&password=***"
/// );
/// assert_eq!(
///     testbed_db::redact("postgres://u:s3cret@db:notaport/x"),
///     "postgres://u:***@db:notaport/x"
/// );
/// assert_eq!(testbed_db::redact("sqlite::memory:"), "sqlite::memory:");
/// ```
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            redact_query(parsed.as_str())
        }
        _ => redact_query(&redact_user_info(url)),
    }
}

/// The password of `scheme://user:password@host...` (or `user:password@host...`),
/// found in the text.
fn redact_user_info(url: &str) -> String {
    // Without a scheme, the whole text up to the first `/` is taken as the authority.
    let start = url.find("://").map_or(0, |at| at + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| start + at);
    let Some(at) = url[start..authority_end].rfind('@').map(|at| start + at) else {
        return url.to_owned();
    };
    match url[start..at].find(':').map(|colon| start + colon) {
        Some(colon) => format!("{}***{}", &url[..=colon], &url[at..]),
        None => url.to_owned(),
    }
}

/// The values of secret query parameters, found in the text (as written, encoded or
/// not).
fn redact_query(url: &str) -> String {
    let Some(query_start) = url.find('?').map(|at| at + 1) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(query_start);
    let (query, fragment) = rest.split_at(rest.find('#').unwrap_or(rest.len()));
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if SECRET_PARAMETERS.contains(&key.to_ascii_lowercase().as_str()) => {
                format!("{key}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}{}{fragment}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn names_carry_the_owner() {
        let name = database_name();
        assert!(name.starts_with(NAME_PREFIX));
        assert_eq!(owner_of(&name), Some(token()));
        assert_eq!(owner_of("testbed_tpl_0123456789abcdef"), None);
        assert_eq!(owner_of("testbed_notatoken_1"), None);
        assert_eq!(owner_of("app_0123456789ab_1"), None);
    }

    #[test]
    fn redacts_only_secrets() {
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
        assert!(!redact("postgres://u:pw@h/db").contains("pw"));
        for url in [
            "postgres://u@h/db?password=SECRET",
            "postgres://u@h/db?sslmode=verify-full&sslpassword=SECRET&x=1",
            "postgres://u@h/db?PASSWORD=SECRET#frag",
            "postgres://u:SECRET@h:notaport/db",
            "postgres://u:SECRET@h:notaport/db?password=SECRET",
            "mysql://u:SECRET@[::1/db",
            "not a url u:SECRET@host",
        ] {
            let redacted = redact(url);
            assert!(!redacted.contains("SECRET"), "{url} -> {redacted}");
        }
        assert_eq!(
            redact("postgres://u@h/db?sslmode=require&application_name=x"),
            "postgres://u@h/db?sslmode=require&application_name=x"
        );
    }
}
