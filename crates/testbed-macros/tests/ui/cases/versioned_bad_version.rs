#[derive(testbed::versioned::Versioned)]
#[versioned(version = "1")]
struct Ping {
    seq: u64,
}

fn main() {}
