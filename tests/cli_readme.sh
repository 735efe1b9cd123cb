#!/usr/bin/env bash
# The README's first command, run as written in a clean clone of this
# repository: it must build and the demo model must answer.
set -u
if [ -n "${QWENC_SANITIZED:-}" ]; then echo "SKIPPED in the sanitizer build (the release build runs it)"; echo "0 passed, 0 failed"; exit 0; fi
if ! git -C "$QWENC_ROOT" rev-parse HEAD >/dev/null 2>&1; then
  echo "SKIPPED: $QWENC_ROOT is not a git checkout"; echo "0 passed, 0 failed"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$QWENC_ROOT" "$tmp/clone" || { echo "FAILED: clone"; echo "0 passed, 1 failed"; exit 1; }
cmd=$(awk '/^\*\*Build and run\*\*/{on=1} on && /^```sh/{getline; print; exit}' "$QWENC_ROOT/README.md")
echo "README command: $cmd"
out=$(cd "$tmp/clone" && bash -c "$cmd" 2>"$tmp/err" | tail -3); rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"42"* ]]; then echo "1 passed, 0 failed"; exit 0; fi
echo "FAILED: rc $rc, output: $out"; tail -20 "$tmp/err"
echo "0 passed, 1 failed"; exit 1
