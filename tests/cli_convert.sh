#!/usr/bin/env bash
# qwenc convert: the bundled demo model (with its tokenizer) written as bf16,
# q8_0 and q4_0 GGUF runs from the lone file; bf16 gives the same greedy
# chat answer and the same logits as the safetensors model. Bad input (type,
# output path, model, options) exits 2 with one line and leaves no file.
set -u
demo="$QWENC_ROOT/models/qwenc-demo"
tmp=$(mktemp -d /tmp/qwenc-convert-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAILED $*"; }

for type in bf16 q8_0 q4_0; do
  if "$QWENC_BIN" convert -m "$demo" -o "$tmp/demo-$type.gguf" --type $type -t 2 2>"$tmp/err"; then ok
  else bad "convert $type: $(cat "$tmp/err")"; fi
done
# the lone bf16 file answers as the directory does (tokenizer and template from its metadata)
want=$("$QWENC_BIN" generate -m "$demo" --chat "What is 12 + 30?" --greedy -n 32 --print-ids)
got=$("$QWENC_BIN" generate -m "$tmp/demo-bf16.gguf" --chat "What is 12 + 30?" --greedy -n 32 --print-ids)
if [ -n "$want" ] && [ "$want" == "$got" ]; then ok; else bad "bf16 greedy ids: '$got' vs '$want'"; fi
"$QWENC_BIN" logits -m "$demo" --ids 1,2,3,4,5,100 --out "$tmp/a.f32" &&
  "$QWENC_BIN" logits -m "$tmp/demo-bf16.gguf" --ids 1,2,3,4,5,100 --out "$tmp/b.f32" &&
  cmp -s "$tmp/a.f32" "$tmp/b.f32" && ok || bad "bf16 logits differ"
for type in q8_0 q4_0; do
  out=$("$QWENC_BIN" generate -m "$tmp/demo-$type.gguf" --chat "Hello!" --greedy -n 8 2>&1) && [ -n "$out" ] && ok ||
    bad "$type file does not generate: $out"
done
# a GGUF converts again (q8_0 rows copied, the tokenizer re-written from the metadata)
"$QWENC_BIN" convert -m "$tmp/demo-q8_0.gguf" -o "$tmp/again.gguf" --type q8_0 2>/dev/null &&
  cmp -s "$tmp/demo-q8_0.gguf" "$tmp/again.gguf" && ok || bad "GGUF -> GGUF q8_0 is not the same file"

expect_bad() {  # name, needle, args...
  local name=$1 needle=$2
  shift 2
  "$QWENC_BIN" convert "$@" >"$tmp/out" 2>"$tmp/err"
  local st=$?
  if [ $st -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$needle" "$tmp/err" && [ ! -s "$tmp/out" ]; then ok
  else bad "$name: status $st, stderr: $(cat "$tmp/err")"; fi
}
expect_bad "bad type" "unknown --type 'q5_k'" -m "$demo" -o "$tmp/x.gguf" --type q5_k
expect_bad "unwritable path" "$tmp/no/dir/x.gguf" -m "$demo" -o "$tmp/no/dir/x.gguf"
expect_bad "missing model" "no-such-model" -m "$tmp/no-such-model" -o "$tmp/x.gguf"
expect_bad "no output" "no output file" -m "$demo"
expect_bad "no model" "no model given" -o "$tmp/x.gguf"
expect_bad "unknown option" "--bogus" -m "$demo" -o "$tmp/x.gguf" --bogus
head -c 1000 "$tmp/demo-bf16.gguf" >"$tmp/cut.gguf"
expect_bad "truncated GGUF" "cut.gguf" -m "$tmp/cut.gguf" -o "$tmp/x.gguf"
[ ! -e "$tmp/x.gguf" ] && [ -z "$(ls "$tmp" | grep -- '.tmp-')" ] && ok || bad "a failed convert left a file: $(ls "$tmp")"
"$QWENC_BIN" convert --help | grep -q -- "--type" && ok || bad "--help"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
