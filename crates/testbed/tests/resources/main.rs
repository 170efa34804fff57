//! Shared resources: made once, shared, reset when dirty, torn down; dependencies first;
//! persistent ones built exactly once by racing processes.

mod dependencies;
mod exit;
mod lifecycle;
mod persistent;
#[path = "../support/respawn.rs"]
mod respawn;
