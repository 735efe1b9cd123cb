# Shared by the server tests (sourced): counters, check, and starting and
# stopping `qwenc serve` on a free port with its log in $tmp.
set -u
: "${QWENC_BIN:?run through ctest}" "${QWENC_ROOT:?}" "${QWENC_BUILD_DIR:?}"
q=$QWENC_BIN
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'FAILED: %s\n' "$*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
# The sanitizer build is several times slower.
slow=1
[ -n "${QWENC_SANITIZED:-}" ] && slow=5

command -v node >/dev/null || { echo "FAILED: node (20 or newer) is needed for the server tests"; exit 1; }
command -v curl >/dev/null || { echo "FAILED: curl is needed for the server tests"; exit 1; }

# start_server NAME ARGS...: starts `qwenc serve --port 0 ARGS` and waits for
# its "listening" line; sets url_NAME and pid_NAME. Failing to start ends the test.
start_server() {
    local name=$1; shift
    "$q" serve --port 0 -t 2 "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
    local pid=$!
    pids+=("$pid")
    local u="" i
    for ((i = 0; i < 300; i++)); do
        u=$(sed -n 's/^qwenc serve: listening on \(http:[^ ]*\) .*/\1/p' "$tmp/$name.log")
        [ -n "$u" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$u" ]; then
        echo "FAILED: server $name did not start within 30 s: $(cat "$tmp/$name.log")"
        exit 1
    fi
    printf -v "url_$name" '%s' "$u"
    printf -v "pid_$name" '%s' "$pid"
}

# stop_server NAME: SIGTERM; the server must exit with status 0 within a few seconds.
stop_server() {
    local name=$1 pid_var="pid_$1" i rc
    local pid=${!pid_var}
    kill -TERM "$pid"
    for ((i = 0; i < 100 * slow; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bad "server $name still running $((10 * slow)) s after SIGTERM"
        kill -KILL "$pid"
    fi
    wait "$pid"; rc=$?
    check '[ $rc -eq 0 ]' "server $name exit status $rc after SIGTERM: $(tail -20 "$tmp/$name.log")"
    check 'grep -q "^qwenc serve: shutting down$" "$tmp/$name.log"' "server $name did not log its shutdown"
}

