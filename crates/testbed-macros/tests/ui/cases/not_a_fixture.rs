// An argument that is no fixture at all, in an async test.
#[testbed::test]
async fn takes_a_string(name: String) {
    let _ = name;
}

fn main() {}
