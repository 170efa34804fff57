//! The README, pasted into a new crate outside this repository: its first `toml` block
//! as the dependencies (the path it names pointed at this checkout), each plain `rust`
//! block as a test file of its own, rustdoc's hidden lines (`# ...`) left out as a reader
//! who copies the rendered page would. The crate's tests must build and pass.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fenced blocks of `text` whose info string is exactly `info`.
fn blocks<'a>(text: &'a str, info: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            // Another block's fences, or text between blocks.
            (None, Some(rest)) if rest.trim() == info => current = Some(Vec::new()),
            (None, _) => {}
            (Some(_), Some(_)) => found.extend(current.take()),
            (Some(lines), None) => lines.push(line),
        }
    }
    found
}

#[test]
fn the_readme_builds_and_passes_in_a_new_crate() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let crate_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-crate");
    let _ = std::fs::remove_dir_all(crate_dir.join("tests"));
    std::fs::create_dir_all(crate_dir.join("tests")).unwrap();
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(crate_dir.join("src/lib.rs"), "").unwrap();

    let dependencies = blocks(&readme, "toml")
        .into_iter()
        .next()
        .expect("the README gives its dependencies first")
        .join("\n");
    let testbed = workspace().join("crates/testbed");
    let dependencies = dependencies.replace(
        "../testbed/crates/testbed",
        &testbed.canonicalize().unwrap().display().to_string(),
    );
    assert!(
        dependencies.contains("[dev-dependencies]"),
        "{dependencies}"
    );
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"readme-crate\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n{dependencies}\n"
        ),
    )
    .unwrap();
    // The workspace's lock, so the same versions build without a registry look-up.
    if !crate_dir.join("Cargo.lock").exists() {
        std::fs::copy(workspace().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    }
    let snippets = blocks(&readme, "rust");
    assert!(
        snippets.len() >= 3,
        "the README's rust blocks: {}",
        snippets.len()
    );
    for (index, lines) in snippets.iter().enumerate() {
        let pasted: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| !line.starts_with("# ") && *line != "#")
            .collect();
        std::fs::write(
            crate_dir.join(format!("tests/snippet_{index}.rs")),
            pasted.join("\n") + "\n",
        )
        .unwrap();
    }
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", crate_dir.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove(testbed::REQUIRE_ENV)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "the README's snippets do not build or pass in a new crate:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
