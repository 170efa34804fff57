//! The `cargo testbed` command.
//!
//! `cargo testbed db status` lists what testbed holds on each database server (templates,
//! pooled databases, databases in use, kept ones, orphans of killed runs);
//! `cargo testbed db prune` removes the orphans and the stale templates with their pools,
//! and, on request, every unused template and the databases kept for failing tests.
//! Servers come from `TESTBED_POSTGRES_URL` and `TESTBED_MYSQL_URL`, else the local
//! defaults; passwords are never printed. `cargo testbed skips` lists the tests the
//! last `cargo nextest run` skipped at run time, and why. `cargo testbed versions
//! review | accept | reject | status` reviews the manifests of versioned wire shapes
//! that `testbed::versioned`'s check proposed.
#![warn(missing_docs)]

pub mod cli;
mod db;
mod skips;
mod versions;
