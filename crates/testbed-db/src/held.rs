//! What testbed holds on a server, as `cargo testbed db status` lists it and `prune`
//! removes it: the same words for every backend.

use crate::Backend;

/// A database testbed holds on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The server's backend.
    pub backend: Backend,
    /// The database's name.
    pub name: String,
    /// What it is for.
    pub kind: HeldKind,
    /// The owner token, for a test's database.
    pub owner: Option<String>,
}

/// What a [`Held`] database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeldKind {
    /// A complete template, reused by later runs.
    Template,
    /// A template being built, or left half-built by a crash (rebuilt on next use).
    Unfinished,
    /// A test's database whose owner process is running.
    InUse,
    /// A clean database waiting in a pool for its next test.
    Pooled,
    /// A failing test's database kept by `TESTBED_KEEP_FAILED`.
    Kept,
    /// A test's database whose owner is gone: safe to drop.
    Orphaned,
}

impl std::fmt::Display for HeldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeldKind::Template => "template",
            HeldKind::Unfinished => "unfinished template",
            HeldKind::InUse => "in use",
            HeldKind::Pooled => "pooled",
            HeldKind::Kept => "kept",
            HeldKind::Orphaned => "orphaned",
        })
    }
}

/// What to remove besides orphans (always removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// Also the templates (rebuilt on next use).
    pub templates: bool,
    /// Also failing tests' databases kept by `TESTBED_KEEP_FAILED`.
    pub kept: bool,
}
