#!/usr/bin/env bash
# What #[derive(Versioned)] costs to build: a generated crate of 100 serde types (five
# fields each, one of them the first type), built as it is and with every type
# also deriving Versioned (with a version), side by side. Prints, for each, the cold
# `cargo build` (dependencies included: what a first build pays) and the median of three
# rebuilds of the crate alone (what each edit pays), then the difference.
#
# Usage: crates/testbed-versioned/benches/derive-cost.sh [types]   (default 100)
set -euo pipefail

types=${1:-100}
workspace=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/testbed-derive-cost.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

generate() { # name, derive line, version attribute
    local dir="$scratch/$1"
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
serde = { version = "1", features = ["derive"] }
$4
TOML
    cp "$workspace/Cargo.lock" "$dir/Cargo.lock"
    {
        for ((i = 0; i < types; i++)); do
            # Each holds one other type: the first, so nesting stays shallow.
            local child="String"
            ((i > 0)) && child="Type0"
            cat <<RUST
#[derive(serde::Serialize, serde::Deserialize$2)]
$3
#[serde(rename_all = "camelCase")]
pub struct Type$i {
    pub id_number: u64,
    pub display_name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub note: Option<u32>,
    pub child: Option<Box<$child>>,
}
RUST
        done
    } >"$dir/src/lib.rs"
}

seconds() { # dir, target
    local start end
    start=$(date +%s.%N)
    if ! CARGO_TARGET_DIR="$2" cargo build --quiet --manifest-path "$1/Cargo.toml" >&2; then
        echo "derive-cost: building $1 failed" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

generate plain "" "" ""
generate versioned ", testbed::versioned::Versioned" '#[versioned(version = "1.0")]' \
    "testbed = { path = \"$workspace/crates/testbed\", default-features = false, features = [\"versioned\"] }"

declare -A cold rebuild
for name in plain versioned; do
    target="$scratch/target-$name"
    cold[$name]=$(seconds "$scratch/$name" "$target")
    runs=()
    for _ in 1 2 3; do
        touch "$scratch/$name/src/lib.rs"
        runs+=("$(seconds "$scratch/$name" "$target")")
    done
    rebuild[$name]=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
done

printf '%d types: cold build (dependencies included) plain %.1f s, with Versioned %.1f s (+%.1f s)\n' \
    "$types" "${cold[plain]}" "${cold[versioned]}" "$(echo "${cold[versioned]} - ${cold[plain]}" | bc)"
printf '%d types: rebuild of the crate alone (median of 3) plain %.2f s, with Versioned %.2f s (+%.2f s)\n' \
    "$types" "${rebuild[plain]}" "${rebuild[versioned]}" "$(echo "${rebuild[versioned]} - ${rebuild[plain]}" | bc)"
