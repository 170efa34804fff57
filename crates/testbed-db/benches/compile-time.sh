#!/usr/bin/env bash
# Cold `cargo build --tests` of a fresh crate with one testbed-db test, for each choice of
# features: `sqlite` alone, `postgres` alone, and the defaults (all three); or the
# choices given after REPS, each `default`, `default,<features>` (the defaults and more,
# such as `default,sea-orm`) or `<features>` alone (`sqlite,diesel-sqlite`).
# Each build starts from an empty target directory; dependencies must be fetched already
# (it runs `--offline`). Usage: compile-time.sh [REPS [CHOICE...]]   (default 1)
set -euo pipefail
reps="${1:-1}"
shift || true
choices=("$@")
if ((${#choices[@]} == 0)); then
    choices=(sqlite postgres default)
fi
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for choice in "${choices[@]}"; do
    crate="$work/${choice//,/+}"
    mkdir -p "$crate/src" "$crate/tests"
    if [[ "$choice" == default ]]; then
        dep="testbed-db = { path = \"$repo/crates/testbed-db\" }"
    elif [[ "$choice" == default,* ]]; then
        features="\"${choice#default,}\""
        dep="testbed-db = { path = \"$repo/crates/testbed-db\", features = [${features//,/\", \"}] }"
    else
        features="\"$choice\""
        dep="testbed-db = { path = \"$repo/crates/testbed-db\", default-features = false, features = [${features//,/\", \"}] }"
    fi
    cat >"$crate/Cargo.toml" <<TOML
[package]
name = "compile-time"
version = "0.1.0"
edition = "2024"

[dev-dependencies]
testbed = { path = "$repo/crates/testbed" }
$dep
tokio = { version = "1", features = ["rt", "macros"] }

[workspace]
TOML
    : >"$crate/src/lib.rs"
    cat >"$crate/tests/one.rs" <<'RUST'
static DB: testbed_db::Database = testbed_db::Database::empty();

#[testbed::test]
async fn acquires(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    let db = DB.acquire(scope, testbed_db::Backend::Sqlite).await?;
    assert!(!db.name().is_empty());
    Ok(())
}
RUST
    cp "$repo/Cargo.lock" "$crate/"
done

for rep in $(seq "$reps"); do
    for choice in "${choices[@]}"; do
        crate="$work/${choice//,/+}"
        rm -rf "$crate/target"
        start=$(date +%s.%N)
        (cd "$crate" && cargo build --tests --offline -q)
        end=$(date +%s.%N)
        printf 'rep %s  %-24s  %6.1f s\n' "$rep" "$choice" "$(echo "$end - $start" | bc)"
    done
done
