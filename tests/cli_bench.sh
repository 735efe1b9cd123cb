#!/usr/bin/env bash
# qwenc bench: --json prints exactly one JSON line with every field, positive
# speeds and min <= median <= max, on synthetic models and on fixture models
# (a directory and a GGUF file); -p 0 / -n 0 skip a test; the table has its
# rows; bad options exit 2 with one line on stderr and nothing on stdout.
set -u
pass=0 fail=0
out=/tmp/qwenc-bench-out.$$ errf=/tmp/qwenc-bench-err.$$
trap 'rm -f $out $errf' EXIT
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'FAILED %s\n' "$1"; [ -s $errf ] && cat $errf; }

# check_json NAME PROMPT GEN REPS TYPE THREADS -- bench arguments (without --json)
check_json() {
  local name=$1 prompt=$2 gen=$3 reps=$4 type=$5 threads=$6
  shift 7
  if ! "$QWENC_BIN" bench "$@" --json >$out 2>$errf; then bad "$name: exit status"; return; fi
  local problems
  problems=$(node -e '
    const [text, prompt, gen, reps, type, threads] = process.argv.slice(1);
    const lines = text.split("\n").filter(l => l.length);
    const p = [];
    if (lines.length !== 1) p.push(`${lines.length} lines on stdout`);
    let j = {};
    try { j = JSON.parse(lines[0]); } catch (e) { p.push("not JSON: " + lines[0]); }
    const pos = x => typeof x === "number" && isFinite(x) && x > 0;
    const tps = (key, on) => {
      const s = j[key];
      if (!on) { if (s !== null) p.push(`${key} should be null`); return; }
      if (!s || !["median", "min", "max"].every(k => pos(s[k]))) return p.push(`${key}: ${JSON.stringify(s)}`);
      if (!(s.min <= s.median && s.median <= s.max)) p.push(`${key}: not min <= median <= max`);
    };
    tps("prefill_tps", +prompt > 0);
    tps("decode_tps", +gen > 0);
    if (!pos(j.peak_rss_mb)) p.push(`peak_rss_mb ${j.peak_rss_mb}`);
    if (+gen > 0 ? !pos(j.weight_gbps) : j.weight_gbps !== null) p.push(`weight_gbps ${j.weight_gbps}`);
    if (!pos(j.weight_bytes_per_token)) p.push("weight_bytes_per_token");
    const want_gbps = +gen > 0 ? j.weight_bytes_per_token * j.decode_tps.median / 1e9 : 0;
    if (+gen > 0 && Math.abs(j.weight_gbps - want_gbps) > 1e-3 * want_gbps)
      p.push("weight_gbps is not bytes per token x median decode tok/s");
    if (typeof j.model !== "string" || !j.model) p.push("model");
    if (j.type !== type) p.push(`type ${j.type}, want ${type}`);
    if (j.prompt !== +prompt || j.gen !== +gen || j.reps !== +reps || j.threads !== +threads)
      p.push(`prompt/gen/reps/threads ${j.prompt}/${j.gen}/${j.reps}/${j.threads}`);
    console.log(p.join("; "));
  ' "$(cat $out)" "$prompt" "$gen" "$reps" "$type" "$threads")
  if [ -z "$problems" ]; then ok; else bad "$name: $problems"; fi
}

check_json "synthetic tiny-qwen3" 8 4 2 bf16 1 -- --synthetic tiny-qwen3 -p 8 -n 4 -r 2 -t 1
check_json "synthetic moe q4_0" 8 4 2 q4_0 2 -- --synthetic tiny-qwen3-moe --type q4_0 -p 8 -n 4 -r 2 -t 2
check_json "synthetic qwen2 q8_0" 8 4 3 q8_0 2 -- --synthetic tiny-qwen2 --type q8_0 -p 8 -n 4 -t 2
check_json "fixture directory" 8 4 2 bf16 1 -- -m "$QWENC_TEST_DATA/models/qwen3-tiny" -p 8 -n 4 -r 2 -t 1
check_json "fixture moe directory" 8 4 2 bf16 2 -- -m "$QWENC_TEST_DATA/models/qwen3-moe-tiny" -p 8 -n 4 -r 2 -t 2
check_json "fixture gguf" 8 4 2 q8_0 2 -- -m "$QWENC_GGUF_FIXTURE" -p 8 -n 4 -r 2 -t 2
check_json "prefill only" 8 0 1 f32 1 -- --synthetic tiny-qwen3 --type f32 -p 8 -n 0 -r 1 -t 1
check_json "decode only" 0 4 1 f32 1 -- --synthetic tiny-qwen3 --type f32 -p 0 -n 4 -r 1 -t 1

# the table: a header and one row per test
if "$QWENC_BIN" bench --synthetic tiny-qwen3 -p 8 -n 4 -r 1 >$out 2>$errf &&
   grep -q '^| model ' $out && grep -q '| *pp8 |' $out && grep -q '| *tg4 |' $out && grep -q 'peak RSS' $out; then ok
else bad "table"; cat $out; fi

# --bandwidth: a positive mem_read_gbps in --json, the line and the decode share in the table,
# and the 1 GiB array (measured in a child) not in the peak RSS
if "$QWENC_BIN" bench --synthetic tiny-qwen3 -p 0 -n 4 -r 1 -t 2 --bandwidth --json >$out 2>$errf &&
   node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            process.exit(o.mem_read_gbps > 0.1 && o.peak_rss_mb < 512 ? 0 : 1)' $out; then ok
else bad "--bandwidth json"; cat $out; fi
if "$QWENC_BIN" bench --synthetic tiny-qwen3 -p 0 -n 4 -r 1 -t 1 --bandwidth >$out 2>$errf &&
   grep -Eq '^memory read bandwidth [0-9.]+ GB/s \(1 thread, 1 GiB\); decode uses [0-9]+% of it$' $out; then ok
else bad "--bandwidth table"; cat $out; fi

# bad input: exit 2, one line on stderr, nothing on stdout
expect_bad() {  # name, expected text in the message, arguments...
  local name=$1 want=$2
  shift 2
  "$QWENC_BIN" bench "$@" >$out 2>$errf
  local st=$?
  if [ $st -eq 2 ] && [ "$(wc -l <$errf)" -eq 1 ] && [ ! -s $out ] && grep -q -- "$want" $errf; then ok
  else bad "$name (exit $st)"; fi
}
expect_bad "unknown shape" "unknown synthetic model shape 'qwen9-1b'" --synthetic qwen9-1b -p 8 -n 4
expect_bad "bad type" "unknown synthetic weight type 'q5_k'" --synthetic tiny-qwen3 --type q5_k
expect_bad "negative prompt" "--n-prompt: '-1'" --synthetic tiny-qwen3 -p -1
expect_bad "negative gen" "--n-gen: '-5'" --synthetic tiny-qwen3 -n -5
expect_bad "zero reps" "--repetitions: '0'" --synthetic tiny-qwen3 -r 0
expect_bad "bad threads" "--threads: 'two'" --synthetic tiny-qwen3 -t two
expect_bad "no model" "give exactly one of -m MODEL and --synthetic SHAPE" -p 8
expect_bad "both models" "give exactly one of" -m "$QWENC_TEST_DATA/models/qwen3-tiny" --synthetic tiny-qwen3
expect_bad "missing model" "model '/nonexistent/model' not found" -m /nonexistent/model
expect_bad "type without synthetic" "--type applies to --synthetic" -m "$QWENC_TEST_DATA/models/qwen3-tiny" --type q8_0
expect_bad "nothing to measure" "nothing to measure" --synthetic tiny-qwen3 -p 0 -n 0
expect_bad "unknown option" "unknown option '--bogus'" --synthetic tiny-qwen3 --bogus
expect_bad "extra argument" "unexpected argument 'extra'" --synthetic tiny-qwen3 extra
expect_bad "context too long" "max_position_embeddings 4096" --synthetic tiny-qwen3 -p 5000 -n 1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
