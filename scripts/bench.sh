#!/usr/bin/env bash
# The benchmark of issue 7: the origin directly, through streamgate's gateway (JWT,
# subscription check, per-event metering) and, when installed, through nginx as a plain SSE
# reverse proxy, side by side on loopback. Prints a markdown table of medians and ratios.
#
#   scripts/bench.sh            full run (3 repetitions, 7 s windows, fan-out 1k/4k/8k/20k;
#                               ~12 min)
#   scripts/bench.sh --quick    smoke run (1 repetition, 3 s windows, fan-out 1k; ~1 min)
#   scripts/bench.sh --tls      only the TLS rows (issue 13): bulk and chatty through the
#                               gateway's https port and nginx with `ssl` on the same
#                               certificate (combine with --quick, --reps, --duration ...)
#
# A tiny TLS smoke run on debug binaries (no release build):
#   BENCH_PROFILE=debug scripts/bench.sh --tls --only bulk --reps 1 --duration 0.5 --warmup 0.2
#
#   scripts/bench.sh --only tui --quick
#                               the terminal UI rows alone (lines, then chart mode), ~1 min;
#                               starts neither the gateway nor nginx
#
# Any other options go to `sg-bench run` (see `target/release/sg-bench run --help`), e.g.
# --reps 5, --only bulk,chatty, --paths gateway,nginx, --no-nginx, --out FILE.
#
# Shared quotas (issue 17): with a Redis running, the figures for the README (store calls
# per 1,000 events, CPU per event with Redis against without), one gateway node:
#   scripts/bench.sh --redis redis://127.0.0.1:6379 --only bulk,chatty --paths gateway,gateway-redis
# (or SG_BENCH_REDIS=redis://127.0.0.1:6379 scripts/bench.sh --only bulk,chatty ...).
set -euo pipefail

cd "$(dirname "$0")/.."

# BENCH_PROFILE=debug measures the debug binaries (smoke runs only: not representative).
profile=${BENCH_PROFILE:-release}
if [ "$profile" = "release" ]; then
    cargo build --release --bins
else
    cargo build --bins
    profile=debug
fi

# --tls: only the TLS paths and the workloads they run, unless --paths/--only say which.
args=()
tls=no
only=no
paths=no
for arg in "$@"; do
    case "$arg" in
        --tls) tls=yes ;;
        --only|--only=*) only=yes; args+=("$arg") ;;
        --paths|--paths=*) paths=yes; args+=("$arg") ;;
        *) args+=("$arg") ;;
    esac
done
if [ "$tls" = "yes" ]; then
    if [ "$paths" = "no" ]; then
        args+=(--paths gateway-tls,nginx-tls)
    fi
    if [ "$only" = "no" ]; then
        args+=(--only bulk,chatty)
    fi
fi

# Up to 20,000 streams: the client and the origin hold one socket per stream, a proxy two
# (40,200 open files). Raise the hard limit where allowed (root with CAP_SYS_RESOURCE),
# then the soft one to it. A fan-out that still does not fit one process runs every side
# in several (load shards, origins on one port, gateway nodes, nginx workers with
# reuseport), and says so under the table.
ulimit -Hn 65536 2>/dev/null || true
hard=$(ulimit -Hn)
if [ "$hard" = "unlimited" ] || [ "$hard" -gt 65536 ]; then
    ulimit -n 65536
else
    ulimit -n "$hard"
fi

# nginx is used when installed (`sg-bench run` looks on PATH and in /usr/sbin) and reported
# as "nginx: not installed, skipped" otherwise.
work=$(mktemp -d "${TMPDIR:-/tmp}/sg-bench.XXXXXX")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

exec "target/$profile/sg-bench" run \
    --streamgate "target/$profile/streamgate" \
    --nginx-template scripts/nginx-sse.conf \
    --work-dir "$work" \
    --command-line "scripts/bench.sh $* (commit $commit)" \
    "${args[@]}"
