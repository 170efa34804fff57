#[derive(testbed::versioned::Versioned)]
#[versioned(verison = "1.0")]
struct Ping {
    seq: u64,
}

fn main() {}
