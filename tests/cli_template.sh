#!/usr/bin/env bash
# qwenc template: renders a golden chat case exactly, and its exit codes.
set -u
bin=${QWENC_BIN:?run through ctest}
data=${QWENC_TEST_DATA:?run through ctest}
tokdir=${QWENC_TOKENIZER_DIR:?run through ctest}
failed=0
fail() { echo "FAILED: $*" >&2; failed=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every golden case through the CLI, compared byte for byte (python3 only
# splits the fixture into request and expected files).
python3 - "$data/chat_golden.json" "$tmp" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
for i, c in enumerate(cases):
    req = {k: v for k, v in c.items() if k not in ("name", "rendered", "ids")}
    open(f"{sys.argv[2]}/req{i}.json", "w").write(json.dumps(req, ensure_ascii=False))
    open(f"{sys.argv[2]}/exp{i}.txt", "wb").write(c["rendered"].encode())
PY
n=0
for req in "$tmp"/req*.json; do
    i=${req##*/req}; i=${i%.json}
    "$bin" template -m "$tokdir" < "$req" > "$tmp/out$i.txt" 2> "$tmp/err$i.txt" || fail "case $i: exit $? ($(cat "$tmp/err$i.txt"))"
    cmp -s "$tmp/out$i.txt" "$tmp/exp$i.txt" || fail "case $i: output differs from the golden rendering"
    n=$((n + 1))
done
[ "$n" -ge 11 ] || fail "expected at least 11 golden cases, ran $n"

# --help exits 0 and prints usage on stdout.
"$bin" template --help > "$tmp/help.txt" 2>&1 || fail "--help exit $?"
grep -q "usage: qwenc template" "$tmp/help.txt" || fail "--help shows no usage"

# Unknown option: exit 2.
"$bin" template --bogus -m "$tokdir" < /dev/null > /dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "unknown option: exit $rc, expected 2"

# Bad JSON: exit 2, one line on stderr, nothing on stdout.
echo '{"messages": [' | "$bin" template -m "$tokdir" > "$tmp/o" 2> "$tmp/e"; rc=$?
[ "$rc" -eq 2 ] || fail "bad JSON: exit $rc, expected 2"
[ "$(wc -l < "$tmp/e")" -eq 1 ] || fail "bad JSON: expected one line on stderr, got: $(cat "$tmp/e")"
[ ! -s "$tmp/o" ] || fail "bad JSON: output on stdout"

# A request the template rejects (no messages): exit 2 with a message.
echo '{"tools": []}' | "$bin" template -m "$tokdir" > /dev/null 2> "$tmp/e"; rc=$?
[ "$rc" -eq 2 ] || fail "missing messages: exit $rc, expected 2"
grep -q "messages" "$tmp/e" || fail "missing messages: message does not say so: $(cat "$tmp/e")"

# A template error (raise_exception) in a tokenizer directory of our own.
mkdir "$tmp/tok"
cp "$QWENC_ROOT/models/qwenc-demo/tokenizer.json" "$tmp/tok/"
printf '%s' '{"chat_template": "{{ raise_exception(\"roles must alternate\") }}", "eos_token": "<|im_end|>"}' \
    > "$tmp/tok/tokenizer_config.json"
echo '{"messages": []}' | "$bin" template -m "$tmp/tok" > /dev/null 2> "$tmp/e"; rc=$?
[ "$rc" -eq 2 ] || fail "raise_exception: exit $rc, expected 2"
grep -q "template line 1: roles must alternate" "$tmp/e" || fail "raise_exception: message: $(cat "$tmp/e")"
[ "$(wc -l < "$tmp/e")" -eq 1 ] || fail "raise_exception: expected one line on stderr"

# Missing -m, and a directory without tokenizer files: exit 2.
echo '{"messages": []}' | "$bin" template > /dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "missing -m: exit $rc, expected 2"
echo '{"messages": []}' | "$bin" template -m "$tmp/nowhere" > /dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "bad directory: exit $rc, expected 2"

[ "$failed" -eq 0 ] && echo "cli_template: all checks passed"
exit "$failed"
