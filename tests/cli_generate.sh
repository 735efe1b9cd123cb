#!/usr/bin/env bash
# qwenc generate on the bundled demo model with text prompts: the greedy
# output equals transformers' golden text (models/qwenc-demo/golden.json).
set -u
demo="$QWENC_ROOT/models/qwenc-demo"
pass=0 fail=0
expect() {  # name, expected stdout, command...
  local name=$1 want=$2
  shift 2
  local got
  got=$("$@" 2>/tmp/qwenc-gen-err.$$; printf x)
  got=${got%x}
  if [ "$got" == "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    printf 'FAILED %s\n--- want\n%s\n--- got\n%s\n--- stderr\n' "$name" "$want" "$got"
    cat /tmp/qwenc-gen-err.$$
  fi
}
expect "chat with thinking" $'<think>\n12 plus 30 is 42.\n</think>\n\n12 + 30 = 42.\n' \
  "$QWENC_BIN" generate -m "$demo" --chat "What is 12 + 30?" --greedy -n 64
expect "chat without thinking" $'Hello! I am a small demo model running on qwenc. How can I help you?\n' \
  "$QWENC_BIN" generate -m "$demo" --chat "Hello!" --no-think --greedy -n 64
expect "plain prompt" $' return 10\n\n    def gi(n): return 10\n\n    def gi(n): return 10\n\n    def gi(n): return 10\n\n    def gi(n): return 10\n' \
  "$QWENC_BIN" generate -m "$demo" -p "def fibonacci(n):" --greedy -n 48 -t 2
# sampling is reproducible for a seed
a=$("$QWENC_BIN" generate -m "$demo" -p "import os" -n 24 --seed 7 --temp 0.9 --print-ids)
b=$("$QWENC_BIN" generate -m "$demo" -p "import os" -n 24 --seed 7 --temp 0.9 --print-ids)
if [ -n "$a" ] && [ "$a" == "$b" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED seed: '$a' vs '$b'"; fi
rm -f /tmp/qwenc-gen-err.$$
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
