fn main() {
    let _ = testbed_db_macros::migrations!("tests/no_such_dir");
}
