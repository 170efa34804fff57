#!/usr/bin/env bash
# The stress test of issue 8: the generated suite's `#[testbed::test]`s (SQLite,
# PostgreSQL default and Rollback, MySQL) under the real `cargo nextest run`.
#
#   stress.sh            10 runs in a row at each of 2, 4 and 8 test threads, a kill round
#                        after each run, then the 4-way partition
#   stress.sh --short    for CI: 2 runs at 4 threads, one kill round, the partition once,
#                        on the first 5 instances of every kind (40 tests per strategy)
#   options: --runs N, --threads "2 4 8", --instances N (1-25), --run-timeout SECONDS
#
# A kill round starts a run in the background, SIGKILLs 1-3 of its test processes at
# random moments (by process id, only processes of that run), lets the run end, and
# reports the killed tests; any other test failing in that run is a failure. The
# partition runs 4 concurrent `cargo nextest run --partition slice:k/4` from 4 copies
# of one `cargo nextest archive`, each with its own source copy (`--workspace-remap`),
# as 4 CI machines sharing the database servers would.
#
# It reports runs, failures with their error lines, how many times each of the suite's
# templates was built (a template's identity: its OID on PostgreSQL, its tables' creation
# time on MySQL, its file's inode on SQLite), and what testbed left on the servers
# after the last run, then after `cargo testbed db prune`. It exits non-zero if a test
# failed, a template was built more than once, or anything but templates and pooled
# databases is left after the prune. Every nextest run is bounded (`--run-timeout`,
# default 600 s, and the profile's 60 s per test).
#
# Environment: CARGO_TARGET_DIR (default: <workspace>/target/nextest-suite),
# TESTBED_POSTGRES_URL / TESTBED_MYSQL_URL as for testbed-db, TESTBED_CLI (a
# `cargo-testbed` binary; default: built from the workspace), TESTBED_PG_BROKER=1 to
# run PostgreSQL's tests through the broker (TESTBED_BROKER_BIN, default TESTBED_CLI).
set -euo pipefail

suite_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$suite_dir/../../../.." && pwd)
runs=10
threads="2 4 8"
instances=25
run_timeout=600
kill_rounds=each
short=""
while (($#)); do
    case $1 in
    --short) short=1 runs=2 threads=4 instances=5 kill_rounds=once ;;
    --runs) runs=$2 && shift ;;
    --threads) threads=$2 && shift ;;
    --instances) instances=$2 && shift ;;
    --run-timeout) run_timeout=$2 && shift ;;
    *) echo "stress: unknown argument \`$1\` (see the comment at the top of $0)" >&2 && exit 2 ;;
    esac
    shift
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/nextest-suite}
export TESTBED_REQUIRE=all CARGO_TERM_COLOR=never
# The broker only when asked for, whatever `cargo-testbed` the PATH holds.
export TESTBED_PG_BROKER=${TESTBED_PG_BROKER:-0}
pg_url=${TESTBED_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# The mysql client's connection options for the same server as TESTBED_MYSQL_URL.
mysql_args=${STRESS_MYSQL_ARGS:--h127.0.0.1 -P3306 -uroot}
work=$(mktemp -d "${TMPDIR:-/tmp}/testbed-stress.XXXXXX")
report=$work/report
trap 'rm -rf "$work"' EXIT
started=$SECONDS

# The first N instances of every kind: `i00`..`i<N-1>`.
filter="binary(testbed_suite)"
if ((instances < 25)); then
    names=$(for ((i = 0; i < instances; i++)); do printf 'i%02d|' "$i"; done)
    filter="$filter & test(/::(${names%|})::/)"
fi

echo "stress: building the suite and cargo-testbed"
(cd "$suite_dir" && cargo test --no-run -q 2>&1 | grep -v '^\s*Executable' || true)
if [[ -z ${TESTBED_CLI:-} ]]; then
    (cd "$root" && CARGO_TARGET_DIR=$root/target cargo build -q -p cargo-testbed)
    TESTBED_CLI=$root/target/debug/cargo-testbed
fi
if [[ $TESTBED_PG_BROKER == 1 ]]; then
    export TESTBED_BROKER_BIN=${TESTBED_BROKER_BIN:-$TESTBED_CLI}
fi
templates=$(cd "$suite_dir" && cargo run -q --bin template-names)
echo "$templates" | sed 's/^/  template: /'

# `<backend> <template> <identity>` for each of the suite's templates that exists.
template_ids() {
    while read -r backend name; do
        local id=""
        case $backend in
        sqlite) id=$(stat -c %i "${TESTBED_SQLITE_DIR:-${TMPDIR:-/tmp}/testbed-db}/$name.sqlite" 2>/dev/null || true) ;;
        postgres) id=$(psql "$pg_url" -Atc "select oid from pg_database where datname = '$name'" 2>/dev/null || true) ;;
        mysql) id=$(mysql $mysql_args -Nse "select min(create_time) from information_schema.tables where table_schema = '$name'" 2>/dev/null || true) ;;
        esac
        [[ -n $id && $id != NULL ]] && echo "$backend $name ${id// /_} ${1:-before the stress}"
    done <<<"$templates"
    return 0
}

ids_seen=$work/template-ids
template_ids >"$ids_seen.initial"
cp "$ids_seen.initial" "$ids_seen"

# Reads a JUnit file: one line per failed test, `<test>\t<first error line>`.
junit_failures() {
    python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    tree = ET.parse(sys.argv[1])
except (OSError, ET.ParseError) as e:
    print(f"<junit>\tno JUnit report: {e}")
    sys.exit()
for case in tree.iter("testcase"):
    failure = case.find("failure")
    if failure is None:
        failure = case.find("error")
    if failure is None:
        continue
    text = (failure.get("message") or "") + "\n" + (failure.text or "")
    out = case.find("system-out")
    err = case.find("system-err")
    text += "\n" + (out.text if out is not None and out.text else "")
    text += "\n" + (err.text if err is not None and err.text else "")
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    keys = ("returned an error", "panicked", "error:", "Error", "SIGKILL", "signal", "timed out")
    chosen = next((l for l in lines if "returned an error" in l), None) or next(
        (l for l in lines if any(k in l for k in keys)), lines[0] if lines else "(no output)")
    print(f"{case.get('name')}\t{chosen[:400]}")
EOF
}

junit_counts() {
    python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
    cases = list(root.iter("testcase"))
    failed = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
    print(len(cases), failed)
except (OSError, ET.ParseError):
    print(0, 0)
EOF
}

total_runs=0
total_tests=0
total_failed=0
: >"$report"

# Records the outcome of one run: its JUnit file, its label, and the tests it killed.
record() {
    local junit=$1 label=$2 killed=${3:-}
    local counts tests failed
    counts=$(junit_counts "$junit")
    tests=${counts% *}
    failed=0
    while IFS=$'\t' read -r name error; do
        [[ -z $name ]] && continue
        if [[ -n $killed ]] && grep -qxF "$name" <<<"$killed"; then
            continue
        fi
        failed=$((failed + 1))
        printf '  FAILED %s: %s: %s\n' "$label" "$name" "$error" | tee -a "$report"
        printf '%s\n' "$error" >>"$work/errors"
    done < <(junit_failures "$junit")
    total_runs=$((total_runs + 1))
    total_tests=$((total_tests + tests))
    total_failed=$((total_failed + failed))
    printf 'stress: %-28s %4s tests, %3s failed%s (%ss so far)\n' "$label" "$tests" "$failed" \
        "${killed:+, $(grep -c . <<<"$killed") killed by SIGKILL}" "$((SECONDS - started))"
    template_ids "after $label" >>"$ids_seen"
}

# nextest's store (and so its JUnit report) is `target/nextest` under the workspace root.
junit_of() { echo "$suite_dir/target/nextest/junit/junit.xml"; }

nextest() {
    (cd "$suite_dir" && timeout --kill-after=10 "$run_timeout" \
        cargo nextest run --profile junit --no-fail-fast -E "$filter" "$@")
}

# The test processes (running the suite's binary) among the descendants of `$1`.
test_pids() {
    local pid child
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        # The process may end meanwhile: the redirection's error is the shell's own.
        if { tr '\0' ' ' <"/proc/$child/cmdline"; } 2>/dev/null | grep -q 'testbed_suite-.* --exact'; then
            echo "$child"
        fi
        test_pids "$child"
    done
}

kill_round() {
    local t=$1 killed="" pid name
    rm -f "$(junit_of)"
    nextest -j "$t" >"$work/kill.log" 2>&1 &
    local run=$!
    local kills=$((RANDOM % 3 + 1))
    for ((k = 0; k < kills; k++)); do
        sleep "$((RANDOM % 3 + 1)).$((RANDOM % 10))"
        # Between two tests no test process may be running: look again, for up to 2 s.
        pids=()
        for ((tries = 0; tries < 20 && ${#pids[@]} == 0; tries++)); do
            mapfile -t pids < <(test_pids "$run")
            ((${#pids[@]})) || sleep 0.1
        done
        ((${#pids[@]})) || continue
        pid=${pids[RANDOM % ${#pids[@]}]}
        name=$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | sed -n 3p || true)
        if kill -9 "$pid" 2>/dev/null; then
            killed+="$name"$'\n'
        fi
    done
    wait "$run" || true
    record "$(junit_of)" "kill round (-j $t)" "$(sed '/^$/d' <<<"$killed")"
}

for t in $threads; do
    for ((r = 1; r <= runs; r++)); do
        rm -f "$(junit_of)"
        nextest -j "$t" >"$work/run.log" 2>&1 || true
        record "$(junit_of)" "run $r/$runs (-j $t)"
        if [[ $kill_rounds == each || ($kill_rounds == once && $r == 1) ]]; then
            kill_round "$t"
        fi
    done
done

# Four CI machines: one archive, four extracted copies, four source copies, one server.
echo "stress: the 4-way partition from one archive"
(cd "$suite_dir" && cargo nextest archive --archive-file "$work/suite.tar.zst" 2>&1 | grep -v '^\s*Archiving' || true)
pids=()
for k in 1 2 3 4; do
    machine=$work/machine-$k
    mkdir -p "$machine/src" "$machine/target"
    tar -C "$suite_dir" --exclude=./target -cf - . | tar -C "$machine/src" -xf -
    (cd "$machine" && timeout --kill-after=10 "$run_timeout" cargo nextest run \
        --archive-file "$work/suite.tar.zst" --workspace-remap "$machine/src" \
        --extract-to "$machine/target" --profile junit --no-fail-fast \
        --partition "slice:$k/4" -j 2 -E "$filter" >"$machine/run.log" 2>&1) &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
for k in 1 2 3 4; do
    record "$work/machine-$k/src/target/nextest/junit/junit.xml" "partition slice:$k/4 (-j 2)"
done

echo
echo "stress: templates built during the stress (identities seen)"
builds_failed=0
while read -r backend name; do
    seen=$(awk -v n="$name" '$2 == n { print $3 }' "$ids_seen" | sort -u | grep -c . || true)
    existed=$(awk -v n="$name" '$2 == n' "$ids_seen.initial" | grep -c . || true)
    builds=$((seen - existed))
    printf '  %-8s %s: built %s time(s) during the stress%s\n' "$backend" "$name" "$builds" \
        "$( ((existed)) && echo ', existed before' || true)"
    if ((seen > 1)); then
        builds_failed=1
        # Each identity, with the first moment it was seen.
        awk -v n="$name" '$2 == n && !seen[$3]++ { $1 = $2 = ""; print "    identity" $0 }' "$ids_seen"
        echo "  FAILED: $name was rebuilt (another run's sweep evicts it only when more than 4 templates are in use on the server)" | tee -a "$report"
    fi
done <<<"$templates"

# With the PostgreSQL broker on (TESTBED_PG_BROKER=1), it holds its clean databases
# until it has had no client for a while, as any live process holds what it uses: wait
# for it to exit before looking at what is left.
if [[ ${TESTBED_PG_BROKER:-} == 1 ]]; then
    for _ in $(seq 60); do
        pgrep -f "testbed db broker" >/dev/null || break
        sleep 0.5
    done
    if pgrep -f "testbed db broker" >/dev/null; then
        echo "  FAILED: the broker did not exit 30 s after the last run" | tee -a "$report"
    fi
fi

hashes=$(awk '{ sub(/^testbed_tpl_/, "", $2); print $2 }' <<<"$templates" | paste -sd'|')
ours() { grep -E "($hashes)" || true; }
echo
echo "stress: what the suite left after the last run (cargo testbed db status)"
"$TESTBED_CLI" testbed db status 2>&1 | ours | sed 's/^/  /'
prune_failed=0
"$TESTBED_CLI" testbed db prune >"$work/prune.log" 2>&1 || { cat "$work/prune.log"; prune_failed=1; echo "  FAILED: cargo testbed db prune" | tee -a "$report"; }
echo "stress: after cargo testbed db prune"
left=$("$TESTBED_CLI" testbed db status 2>&1 | ours)
sed 's/^/  /' <<<"$left"
leftover=$(grep -vE '^\s*(template|pooled)\s' <<<"$left" | grep -c . || true)
if ((leftover)); then
    echo "  FAILED: $leftover database(s) of the suite left behind after prune" | tee -a "$report"
fi

echo
echo "stress: $total_runs runs, $total_tests test executions, $total_failed failed, in $((SECONDS - started))s"
if ((total_failed || builds_failed || leftover || prune_failed)); then
    echo "stress: FAILED; the errors, most frequent first (numbers in names as N):"
    touch "$work/errors"
    sed -E 's/^`[^`]*` test returned an error: //; s/_[0-9]+/_N/g; s/\[[0-9, ]+\]/[..]/' "$work/errors" |
        cut -c1-160 | sort | uniq -c | sort -rn | head -n 20 | sed 's/^/  /'
    grep '^  FAILED: ' "$report" || true
    exit 1
fi
echo "stress: passed"
