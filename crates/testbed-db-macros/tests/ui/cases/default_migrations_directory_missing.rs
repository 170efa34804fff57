fn main() {
    // No `migrations/` beside this crate's Cargo.toml.
    let _ = testbed_db_macros::migrations!();
}
