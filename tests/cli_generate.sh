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
# penalties: the greedy loop above repeats itself; a repetition penalty breaks it, a neutral one changes nothing
plain=$("$QWENC_BIN" generate -m "$demo" -p "def fibonacci(n):" --greedy -n 48 --print-ids)
neutral=$("$QWENC_BIN" generate -m "$demo" -p "def fibonacci(n):" --greedy -n 48 --print-ids --repeat-penalty 1 --presence-penalty 0)
rep=$("$QWENC_BIN" generate -m "$demo" -p "def fibonacci(n):" --greedy -n 48 --print-ids --repeat-penalty 1.3)
pres=$("$QWENC_BIN" generate -m "$demo" -p "def fibonacci(n):" --greedy -n 48 --print-ids --presence-penalty 1.5 --frequency-penalty 0.5)
if [ -n "$plain" ] && [ "$plain" == "$neutral" ] && [ "$rep" != "$plain" ] && [ "$pres" != "$plain" ]; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED penalties: '$plain' / '$neutral' / '$rep' / '$pres'"; fi
for bad in "--repeat-penalty 0" "--repeat-penalty x" "--presence-penalty 2.5" "--frequency-penalty -3"; do
  # shellcheck disable=SC2086
  msg=$("$QWENC_BIN" generate -m "$demo" -p "x" -n 1 $bad 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] && [[ "$msg" == *penalty* ]]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAILED $bad: exit $rc, '$msg'"; fi
done
rm -f /tmp/qwenc-gen-err.$$
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
