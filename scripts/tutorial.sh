#!/usr/bin/env bash
# WSO2 API Manager's tutorial "Create and Publish a Server Sent Events API", end to end and
# headless, with streamgate's CLI: start the servers on free ports with a temporary data dir,
# design the Observer API, attach AsyncGold, publish, deploy, subscribe an application,
# generate keys and a token, then run the tutorial's own curl and print the live memory
# events. Then a second run of step 4 signed in as a subscriber: add the user dev1, log in
# as dev1 (their own config dir), create their application, subscribe, generate keys and a
# token, stream with it, and show that dev1 cannot create an API (403). Stops everything it
# started on exit.
#
# Usage: scripts/tutorial.sh [--bin PATH] [--admin-port P] [--gateway-port P] [--gateway-tls-port P]
#                            [--backend-port P] [--stream-seconds N] [--keep]
# Ports default to 0 (free ports). STREAMGATE_BIN may name the binary; otherwise the
# release binary the README builds, target/release/streamgate, is used (built with
# `cargo build --release` when missing; rebuild it after changing the code).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${STREAMGATE_BIN:-}"
ADMIN_PORT=0
GATEWAY_PORT=0
GATEWAY_TLS_PORT=0
BACKEND_PORT=0
STREAM_SECONDS=7
KEEP=0
STARTUP_TIMEOUT=30

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($#)); do
    case "$1" in
        --bin) BIN="$2"; shift 2 ;;
        --admin-port) ADMIN_PORT="$2"; shift 2 ;;
        --gateway-port) GATEWAY_PORT="$2"; shift 2 ;;
        --gateway-tls-port) GATEWAY_TLS_PORT="$2"; shift 2 ;;
        --backend-port) BACKEND_PORT="$2"; shift 2 ;;
        --stream-seconds) STREAM_SECONDS="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "tutorial.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

if [[ -z "$BIN" ]]; then
    BIN="$ROOT/target/release/streamgate"
    if [[ ! -x "$BIN" ]]; then
        echo "Building streamgate (cargo build --release) ..." >&2
        (cd "$ROOT" && cargo build --release --quiet --bin streamgate)
    fi
fi
if [[ ! -x "$BIN" ]]; then
    echo "tutorial.sh: no streamgate binary at $BIN" >&2
    exit 1
fi

DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/streamgate-tutorial.XXXXXX")"
PIDS=()

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if ((KEEP)); then
        echo "Kept the data dir and logs in $DATA_DIR" >&2
    else
        rm -rf "$DATA_DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the first http:// URL on a line of FILE matching PATTERN, waiting for it while PID
# lives.
wait_for_url() {
    local file="$1" pattern="$2" pid="$3" what="$4"
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    local url=""
    while ((SECONDS < deadline)); do
        url="$(grep -E "$pattern" "$file" 2>/dev/null | grep -oE 'http://[^[:space:],;)]+' | head -n1 || true)"
        if [[ -n "$url" ]]; then
            echo "$url"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "tutorial.sh: $what exited before it was ready:" >&2
            cat "$file" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "tutorial.sh: $what did not say where it listens within ${STARTUP_TIMEOUT}s:" >&2
    cat "$file" >&2
    return 1
}

# Echoes a streamgate command as a person would type it, then runs it.
sg() {
    local shown="streamgate"
    local arg
    for arg in "$@"; do
        if [[ "$arg" =~ [[:space:]] ]]; then shown+=" \"$arg\""; else shown+=" $arg"; fi
    done
    echo "\$ $shown" >&2
    "$BIN" "$@"
}

echo "== Step 3 first: start the SSE server (the sample memory backend)"
"$BIN" backend --port "$BACKEND_PORT" --interval 1000 --time 5000 >"$DATA_DIR/backend.log" 2>&1 &
PIDS+=($!)
BACKEND_URL="$(wait_for_url "$DATA_DIR/backend.log" '/memory' "${PIDS[-1]}" "streamgate backend")"
BACKEND_PORT="${BACKEND_URL##*:}"
BACKEND_PORT="${BACKEND_PORT%%/*}"
echo "memory backend: $BACKEND_URL"

echo "== Start streamgate (management API and gateway), data dir $DATA_DIR"
"$BIN" serve --data-dir "$DATA_DIR" \
    --admin-addr "127.0.0.1:$ADMIN_PORT" \
    --gateway-addr "127.0.0.1:$GATEWAY_PORT" \
    --gateway-tls-addr "127.0.0.1:$GATEWAY_TLS_PORT" >"$DATA_DIR/serve.log" 2>&1 &
PIDS+=($!)
SERVE_PID="${PIDS[-1]}"
ADMIN_URL="$(wait_for_url "$DATA_DIR/serve.log" 'management API listening' "$SERVE_PID" "streamgate serve")"
GATEWAY_URL="$(wait_for_url "$DATA_DIR/serve.log" 'gateway listening' "$SERVE_PID" "streamgate serve")"
GATEWAY_PORT="${GATEWAY_URL##*:}"
GATEWAY_PORT="${GATEWAY_PORT%%/*}"
echo "management API: $ADMIN_URL"
echo "gateway:        $GATEWAY_URL"

export STREAMGATE_ADMIN_URL="$ADMIN_URL"
export STREAMGATE_DATA_DIR="$DATA_DIR"
unset STREAMGATE_ADMIN_TOKEN
# The admin run uses the data dir's admin token: no login of the person running this
# script (in their own config dir) may stand in for it.
export XDG_CONFIG_HOME="$DATA_DIR/admin-config"
deadline=$((SECONDS + STARTUP_TIMEOUT))
until [[ "$("$BIN" health --quiet 2>/dev/null || true)" == "UP" ]]; do
    if ((SECONDS >= deadline)); then
        echo "tutorial.sh: the management API at $ADMIN_URL never answered /health" >&2
        exit 1
    fi
    sleep 0.1
done

echo
echo "== Step 1 - Design a SSE API"
sg api create --name Observer --context /observer --version 1.0.0 \
    --endpoint "http://localhost:$BACKEND_PORT"
echo "-- attach the AsyncGold business plan"
sg api plans Observer:1.0.0 AsyncGold

echo
echo "== Step 2 - Publish the SSE API"
sg api lifecycle Observer:1.0.0 Publish
echo "-- Deploy New Revision to Production and Sandbox, vhost localhost"
sg api deploy Observer:1.0.0 --env "Production and Sandbox" --vhost localhost
sg api deployments Observer:1.0.0

echo
echo "== Step 4 - Invoke the SSE API"
echo "-- the Subscription & Key Generation Wizard: application, subscription, keys, token"
sg app create TutorialApp --policy Unlimited
sg subscribe TutorialApp Observer:1.0.0 --plan AsyncGold
sg keys generate TutorialApp --key-type PRODUCTION --quiet >/dev/null
TOKEN="$(sg token TutorialApp --key-type PRODUCTION --quiet)"
echo "access token: ${TOKEN:0:24}..."

# Streams with TOKEN into FILE for up to STREAM_SECONDS and prints the events; fails when
# none arrive. Sets EVENTS.
stream_with() {
    local token="$1" file="$2"
    echo "\$ curl http://localhost:$GATEWAY_PORT/observer/1.0.0/memory -H \"Authorization: Bearer [accesstoken]\""
    set +e
    curl -sN --max-time "$STREAM_SECONDS" "http://localhost:$GATEWAY_PORT/observer/1.0.0/memory" \
        -H "Authorization: Bearer $token" | tee "$file"
    local curl_status=${PIPESTATUS[0]}
    set -e
    # 28 is curl's "time limit reached": the stream was still open, which is fine.
    if ((curl_status != 0 && curl_status != 28)); then
        echo "tutorial.sh: curl failed with status $curl_status" >&2
        exit 1
    fi
    EVENTS="$(grep -c '^data:' "$file" || true)"
    echo
    if ((EVENTS == 0)); then
        echo "tutorial.sh: no events arrived through the gateway" >&2
        exit 1
    fi
}

echo "-- try it out, with the tutorial's curl (for up to ${STREAM_SECONDS}s)"
stream_with "$TOKEN" "$DATA_DIR/events.txt"
echo "== Done: $EVENTS memory events streamed through the gateway"

echo
echo "== Step 4 again, signed in as a subscriber (the Developer Portal's own user)"
echo "-- the admin adds the user dev1 with the subscriber role"
DEV1_PASSWORD="dev1-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$DEV1_PASSWORD" | sg user add dev1 --role subscriber --password-stdin
echo "-- dev1 logs in; the token is kept in dev1's own config dir (XDG_CONFIG_HOME)"
export XDG_CONFIG_HOME="$DATA_DIR/dev1-config"
printf '%s\n' "$DEV1_PASSWORD" | sg login --user dev1 --password-stdin
echo "-- dev1's application may have the admin's application's name: names are per owner"
sg app create TutorialApp --policy Unlimited
sg subscribe TutorialApp Observer:1.0.0 --plan AsyncGold
sg keys generate TutorialApp --key-type PRODUCTION --quiet >/dev/null
DEV1_TOKEN="$(sg token TutorialApp --key-type PRODUCTION --quiet)"
echo "dev1's access token: ${DEV1_TOKEN:0:24}..."
stream_with "$DEV1_TOKEN" "$DATA_DIR/dev1-events.txt"
echo "== dev1: $EVENTS memory events streamed through the gateway"
echo "-- a subscriber cannot create an API (the creator role can)"
if sg api create --name Spy --context /spy --version 1.0.0 \
    --endpoint "http://localhost:$BACKEND_PORT" 2>"$DATA_DIR/dev1-forbidden.txt"; then
    echo "tutorial.sh: dev1 created an API without the creator role" >&2
    exit 1
fi
cat "$DATA_DIR/dev1-forbidden.txt"
if ! grep -q "HTTP 403" "$DATA_DIR/dev1-forbidden.txt"; then
    echo "tutorial.sh: expected a 403 for dev1's api create" >&2
    exit 1
fi
echo "== dev1 was refused: 403"
sg logout
