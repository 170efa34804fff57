fn main() {
    let _ = testbed_db_macros::seeds!["Cargo.toml", "tests/no_such_seed.sql"];
}
