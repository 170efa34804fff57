struct Opaque;

#[derive(testbed::versioned::Versioned)]
#[versioned(version = "1.0")]
struct Ping {
    seq: u64,
    extra: Opaque,
}

fn main() {}
