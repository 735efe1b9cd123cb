#!/usr/bin/env bash
# qwenc serve under abuse (tests/server/abuse.mjs): slow clients cut off by --read-timeout while others are
# served, connection limits, 100 MB bodies, JSON nested 100,000 deep, invalid UTF-8 in every string field,
# 10,000 requests with the server's memory watched, clients that leave at every stage, a full queue, and a
# clean exit on SIGTERM (no leak report in the sanitizer build). Loopback only, bounded in count and time.
set -u
: "${QWENC_BIN:?run through ctest}" "${QWENC_ROOT:?}"
command -v node >/dev/null || { echo "FAILED: node (20 or newer) is needed for the server tests"; exit 1; }
exec node "$QWENC_ROOT/tests/server/abuse.mjs"
