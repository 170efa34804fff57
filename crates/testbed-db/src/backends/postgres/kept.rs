//! The per-process cap on connections kept open in idle recycled pools.
//!
//! Each recycled database keeps its pool's connections between tests (see `recycle`).
//! A process using many schemas would otherwise keep a warm pool, and its connections,
//! per schema, and could exhaust the server's `max_connections` on its own. Past the cap,
//! the least recently used idle pools are closed: their databases stay reset in the
//! shared pool, only the connections go.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable capping the connections a process keeps in idle recycled
/// PostgreSQL pools (default 24). Past it, the least recently used idle pools are closed.
///
/// ```
/// assert_eq!(testbed_db::PG_MAX_KEPT_CONNECTIONS_ENV, "TESTBED_PG_MAX_KEPT_CONNECTIONS");
/// ```
pub const PG_MAX_KEPT_CONNECTIONS_ENV: &str = "TESTBED_PG_MAX_KEPT_CONNECTIONS";

/// The default cap: well under a default server's 100 connections, room for six idle
/// pools of four connections (under `cargo test`, three for tests and a reset session).
pub(crate) const DEFAULT_MAX_KEPT: usize = 24;

/// The cap, read once: [`PG_MAX_KEPT_CONNECTIONS_ENV`] if it is a number, else the default.
pub(crate) fn max_kept() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| parse(std::env::var(PG_MAX_KEPT_CONNECTIONS_ENV).ok().as_deref()))
}

fn parse(value: Option<&str>) -> usize {
    value
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_KEPT)
}

/// A tick of the process's clock of pool use: larger is more recent.
pub(crate) fn tick() -> u64 {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    CLOCK.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cap_or_falls_back() {
        assert_eq!(parse(Some("6")), 6);
        assert_eq!(parse(Some(" 0 ")), 0);
        assert_eq!(parse(Some("many")), DEFAULT_MAX_KEPT);
        assert_eq!(parse(None), DEFAULT_MAX_KEPT);
        assert!(tick() < tick());
    }
}
