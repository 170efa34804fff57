//! `cargo testbed`: see the `cargo_testbed` library.

fn main() -> std::process::ExitCode {
    cargo_testbed::cli::run(std::env::args_os())
}
