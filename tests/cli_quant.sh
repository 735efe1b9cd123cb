#!/usr/bin/env bash
# --quant TYPE on every command that opens a model, and the k-quant types of qwenc convert: the demo model quantized
# at load answers and computes like the file `qwenc convert --type` writes (greedy ids, logits to the byte, info);
# q4_k_m / q4_k / q6_k files run; bench reports the load time. Bad input (an unknown or missing type, q4_k_m on an
# 8-expert model) exits 2 with one line on stderr and nothing on stdout.
set -u
demo="$QWENC_ROOT/models/qwenc-demo"
tmp=$(mktemp -d /tmp/qwenc-quant-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAILED $*"; }

for type in q4_k_m q4_k q6_k; do
  "$QWENC_BIN" convert -m "$demo" -o "$tmp/demo-$type.gguf" --type $type -t 2 2>"$tmp/err" && ok ||
    bad "convert $type: $(cat "$tmp/err")"
done
for type in q4_k_m q6_k; do
  want=$("$QWENC_BIN" generate -m "$tmp/demo-$type.gguf" --chat "What is 12 + 30?" --greedy -n 16 --print-ids)
  got=$("$QWENC_BIN" generate -m "$demo" --quant $type --chat "What is 12 + 30?" --greedy -n 16 --print-ids -t 2)
  if [ -n "$want" ] && [ "$want" == "$got" ]; then ok; else bad "$type greedy ids: '$got' vs the file's '$want'"; fi
  "$QWENC_BIN" logits -m "$tmp/demo-$type.gguf" --ids 1,2,3,4,5,100 --out "$tmp/a.f32" &&
    "$QWENC_BIN" logits -m "$demo" --quant $type --ids 1,2,3,4,5,100 --out "$tmp/b.f32" &&
    cmp -s "$tmp/a.f32" "$tmp/b.f32" && ok || bad "$type logits differ from the converted file's"
done
out=$("$QWENC_BIN" run -m "$demo" --quant q4_k "What is 12 + 30?" -n 12 --greedy 2>&1) && [ -n "$out" ] && ok ||
  bad "run --quant q4_k: $out"
out=$(echo "Hello" | "$QWENC_BIN" chat -m "$demo" --quant q8_0 -n 6 2>&1) && [ -n "$out" ] && ok ||
  bad "chat --quant: $out"
"$QWENC_BIN" info -m "$demo" --quant q4_k --tensors >"$tmp/info" && grep -q "weight dtype *q4_k" "$tmp/info" &&
  grep -q "weights (quantized)" "$tmp/info" && grep -q "model.norm.weight *f32" "$tmp/info" && ok ||
  bad "info --quant q4_k: $(head -5 "$tmp/info")"
"$QWENC_BIN" info -m "$tmp/demo-q4_k_m.gguf" --tensors >"$tmp/info" &&
  grep -q "model.layers.0.self_attn.v_proj.weight *q6_k" "$tmp/info" &&
  grep -q "model.layers.1.self_attn.v_proj.weight *q4_k" "$tmp/info" && ok || bad "info names the k-quants"
json=$("$QWENC_BIN" bench --synthetic tiny-qwen3 --quant q8_0 -p 8 -n 4 -r 1 -t 2 --json 2>&1)
echo "$json" | grep -q '"load_s"' && echo "$json" | grep -q '"type":"q8_0"' && ok || bad "bench --quant: $json"

expect_bad() {  # name, needle, args...
  local name=$1 needle=$2
  shift 2
  "$QWENC_BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local st=$?
  if [ $st -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$needle" "$tmp/err" && [ ! -s "$tmp/out" ]; then ok
  else bad "$name: status $st, stderr: $(cat "$tmp/err")"; fi
}
unknown="unknown weight type 'q3_k' (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q4_k_m)"
expect_bad "run" "$unknown" run -m "$demo" "hi" --quant q3_k
expect_bad "chat" "$unknown" chat -m "$demo" --quant q3_k
expect_bad "generate" "$unknown" generate -m "$demo" --ids 1,2 --quant q3_k
expect_bad "serve" "$unknown" serve -m "$demo" --port 0 --quant q3_k
expect_bad "bench" "$unknown" bench --synthetic tiny-qwen3 -p 1 -n 1 --quant q3_k
expect_bad "logits" "$unknown" logits -m "$demo" --ids 1 --out "$tmp/x.f32" --quant q3_k
expect_bad "info" "$unknown" info -m "$demo" --quant q3_k
expect_bad "upper case" "unknown weight type 'Q4_K'" generate -m "$demo" --ids 1 --quant Q4_K
expect_bad "no value" "option '--quant' needs a value" generate -m "$demo" --ids 1 --quant
expect_bad "8 experts" "Q5_K" generate -m "$QWENC_TEST_DATA/models/qwen3-moe-tiny" --ids 1 --quant q4_k_m
expect_bad "convert 8 experts" "Q5_K" convert -m "$QWENC_TEST_DATA/models/qwen3-moe-tiny" -o "$tmp/x.gguf" --type q4_k_m
[ ! -e "$tmp/x.f32" ] && [ ! -e "$tmp/x.gguf" ] && ok || bad "a failed command left a file"
for cmd in run chat generate serve bench logits info; do
  "$QWENC_BIN" $cmd --help | grep -q -- "--quant TYPE" && ok || bad "$cmd --help lacks --quant"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
