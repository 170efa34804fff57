//! The suite-wide time limit: [`DEFAULT_TIMEOUT_ENV`], read once, for every test
//! without a `timeout` of its own.

use std::time::Duration;

/// The environment variable that gives every test without a `timeout` of its own a
/// time limit (`30s`, `500ms`, `2m`): a suite-wide guard against a stuck test. A sync
/// test under it runs on a worker thread, as one with its own `timeout` does.
///
/// ```
/// assert_eq!(testbed::DEFAULT_TIMEOUT_ENV, "TESTBED_TIMEOUT");
/// // TESTBED_TIMEOUT=60s cargo test
/// ```
pub const DEFAULT_TIMEOUT_ENV: &str = "TESTBED_TIMEOUT";

/// The limit [`DEFAULT_TIMEOUT_ENV`] sets, read once. A value that is not a duration
/// fails every test that would use it, naming the variable.
pub(super) fn default_timeout() -> Option<Duration> {
    static LIMIT: std::sync::OnceLock<Result<Option<Duration>, String>> =
        std::sync::OnceLock::new();
    let limit = LIMIT.get_or_init(|| match std::env::var(DEFAULT_TIMEOUT_ENV) {
        Err(_) => Ok(None),
        Ok(text) => parse_duration(&text).map(Some).ok_or_else(|| {
            format!(
                "{DEFAULT_TIMEOUT_ENV}=`{text}` is not a duration (hint: a whole number and a unit: `500ms`, `30s`, `2m`)"
            )
        }),
    });
    match limit {
        Ok(limit) => *limit,
        Err(message) => panic!("{message}"),
    }
}

/// `500ms`, `30s`, `2m`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(amount)),
        "s" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_secs(amount.checked_mul(60)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_milliseconds_seconds_and_minutes() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 30s "), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("2h"), None);
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_duration("30"), None);
    }
}
