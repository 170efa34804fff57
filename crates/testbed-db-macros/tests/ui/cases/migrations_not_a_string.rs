fn main() {
    let _ = testbed_db_macros::migrations!(migrations);
}
