#[testbed::test(timeout = "5h")]
fn slow() {}

fn main() {}
