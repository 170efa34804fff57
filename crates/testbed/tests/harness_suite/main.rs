//! testbed's harness, tested by running this very binary (a `harness = false` target) in
//! child processes: the `helpers` tests are `#[ignore]`d and only run there, the `checks`
//! tests run them and read what the harness printed.

mod checks;
mod helpers;
#[path = "../support/respawn.rs"]
mod respawn;
mod summary;

fn main() {
    testbed::harness::main()
}
