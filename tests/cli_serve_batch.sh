#!/usr/bin/env bash
# qwenc serve under load, on the demo model: many streaming clients decoded
# together in batched steps give exactly what each request gives alone; a
# small KV pool makes requests wait instead of failing; the server's memory
# returns to its level before the load; an agent's second turn reuses the
# first turn's cached prefix and answers as a cold server does.
. "$(dirname "$0")/server/lib.sh"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
load() {  # load LABEL URL CLIENTS EACH MAX_TOKENS [SEED_BASE [--no-compare]]
    local label=$1; shift
    node "$QWENC_ROOT/tests/server/load_test.mjs" "$@" >"$tmp/load.out" 2>&1
    local rc=$?
    check '[ $rc -eq 0 ]' "$label (exit $rc): $(grep -v '^ok' "$tmp/load.out" | head -20)"
    grep '^#' "$tmp/load.out" | sed "s/^#/# $label:/"
}

# Under the sanitizers (many times slower) fewer clients, and no memory
# check: ASan holds freed memory in quarantine, and LSan checks leaks at exit.
clients=64 each=3 small=8
[ -n "${QWENC_SANITIZED:-}" ] && clients=8 each=2 small=4

# An 8 MiB KV pool (1024 positions), filled by the first round (its blocks
# stay cached for prefix reuse), as are the allocator's per-thread arenas:
# a second round of other requests may only reuse memory.
start_server load --parallel 8 --queue 256 --ctx 512 --kv-mem 8
if [ -z "${QWENC_SANITIZED:-}" ]; then
    load "first round" "$url_load" "$clients" "$each" 24 5000 --no-compare
    rss0=$(rss_kb "$pid_load")
fi
load "$clients clients x $each streamed requests, --parallel 8" "$url_load" "$clients" "$each" 24
if [ -z "${QWENC_SANITIZED:-}" ]; then
    rss1=$(rss_kb "$pid_load")
    check '[ $((rss1 - rss0)) -lt 2048 ]' "memory grew by $(((rss1 - rss0) / 1024)) MiB under load ($rss0 -> $rss1 kB)"
    echo "# server RSS after the first round ${rss0} kB, after the second ${rss1} kB"
fi
req() { body=$(curl -s -w '\n%{http_code}' "$@"); code=${body##*$'\n'}; body=${body%$'\n'*}; }
req "$url_load/metrics"
check 'grep -q "^qwenc_kv_cache_positions{state=\"held\"}" <<<"$body"' "metrics lack the KV pool gauges"
check 'grep -q "^qwenc_slots_busy 0$" <<<"$body"' "slots still busy after the load"
stop_server load

# 2 contexts of memory for 4 slots: requests that cannot be promised their
# prompt + max_tokens wait in the queue, and all complete.
start_server small --parallel 4 --queue 64 --ctx 256 --kv-mem 4
load "$small clients x 2, --parallel 4 with KV memory for 2" "$url_small" "$small" 2 160
stop_server small

# A pool smaller than one context is refused at start.
"$q" serve --port 0 --ctx 2048 --kv-mem 1 >/dev/null 2>"$tmp/kv.err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "kv-mem 1 MiB holds 128 positions, less than one context of 2048" "$tmp/kv.err"' \
    "--kv-mem below one context: exit $rc: $(cat "$tmp/kv.err")"

start_server warm --parallel 2 --ctx 2048
start_server cold --parallel 1 --ctx 2048
node "$QWENC_ROOT/tests/server/agent_turns.mjs" "$url_warm" "$url_cold" >"$tmp/agent.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "agent turns (exit $rc): $(cat "$tmp/agent.out")"
grep '^#' "$tmp/agent.out"
stop_server warm
stop_server cold

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
