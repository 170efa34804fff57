//! `cargo testbed versions` on a real project: the checked-in `tests/versions-project`
//! (a versioned event and its manifest) is copied, its event changed, and `cargo test`
//! and `cargo testbed versions` run on the copy as a developer would run them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/versions-project")
}

/// The copy, with the path to testbed made absolute.
fn copy_project(to: &Path) {
    std::fs::create_dir_all(to.join("src")).unwrap();
    for file in ["Cargo.lock", "versions.json", "src/lib.rs"] {
        std::fs::copy(project().join(file), to.join(file)).unwrap();
    }
    let testbed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testbed")
        .canonicalize()
        .unwrap();
    let manifest = std::fs::read_to_string(project().join("Cargo.toml"))
        .unwrap()
        .replace("../../../testbed", &testbed.display().to_string());
    std::fs::write(to.join("Cargo.toml"), manifest).unwrap();
}

/// `cargo test` in `dir`, building where earlier runs built (the nested build's own
/// target directory), with this suite's runner's variables removed; `ci` sets `CI`.
fn cargo_test(dir: &Path, ci: bool) -> Output {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(["test", "--quiet"])
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("versions-project"),
        )
        .env("RUST_BACKTRACE", "0")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME")
        .env_remove("RUSTFLAGS");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("NEXTEST")
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("__CARGO")
        {
            command.env_remove(name);
        }
    }
    if ci {
        command.env("CI", "true");
    } else {
        command.env_remove("CI");
    }
    command.output().expect("cargo runs")
}

fn cargo_testbed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-testbed"))
        .arg("testbed")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cargo-testbed runs")
}

fn all_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn a_changed_event_fails_until_bumped_reviewed_and_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path();
    copy_project(copy);
    let lib = copy.join("src/lib.rs");
    let pending = copy.join("versions.json.pending");

    // As checked in: the manifest matches.
    let output = cargo_test(copy, false);
    assert!(output.status.success(), "{}", all_text(&output));

    // A field added without a bump: the test fails with the change in words, and
    // nothing is proposed (the code must change).
    edit(
        &lib,
        "    pub amount_cents: u64,\n",
        "    pub amount_cents: u64,\n    pub currency: String,\n",
    );
    let output = cargo_test(copy, false);
    let said = all_text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains(
            "`PaymentTaken` 1.0: its wire shape changed without a version bump: make it 2.0"
        ),
        "{said}"
    );
    assert!(
        said.contains("field `currency: String` added without a default (breaking)"),
        "{said}"
    );
    assert!(!pending.exists());

    // Bumped: under CI nothing is written and the test fails.
    edit(&lib, "version = \"1.0\"", "version = \"2.0\"");
    let output = cargo_test(copy, true);
    let said = all_text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("CI writes nothing"), "{said}");
    assert!(!pending.exists(), "CI wrote {}", pending.display());

    // Locally the proposal is written, then reviewed and accepted.
    let output = cargo_test(copy, false);
    let said = all_text(&output);
    assert!(
        said.contains("`PaymentTaken` bumped from 1.0 to 2.0: pending review"),
        "{said}"
    );
    assert!(said.contains("cargo testbed versions review"), "{said}");
    assert!(pending.is_file());
    let output = cargo_testbed(copy, &["versions", "status"]);
    assert!(
        all_text(&output).contains("versions.json.pending"),
        "{}",
        all_text(&output)
    );
    let output = cargo_testbed(copy, &["versions", "review"]);
    let said = all_text(&output);
    assert!(said.contains("~ `PaymentTaken` 1.0 -> 2.0"), "{said}");
    assert!(
        said.contains("field `currency: String` added without a default (breaking)"),
        "{said}"
    );
    let output = cargo_testbed(copy, &["versions", "accept"]);
    assert!(output.status.success(), "{}", all_text(&output));
    let output = cargo_test(copy, false);
    assert!(output.status.success(), "{}", all_text(&output));
    // Both versions stay in the manifest.
    let manifest = std::fs::read_to_string(copy.join("versions.json")).unwrap();
    assert!(
        manifest.contains("\"1.0\"") && manifest.contains("\"2.0\""),
        "{manifest}"
    );
}
