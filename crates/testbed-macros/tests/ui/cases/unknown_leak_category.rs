#[testbed::test(allow_leaks(threads, sockets))]
fn leaves_a_socket() {}

fn main() {}
