#!/usr/bin/env bash
# qwenc tokenize / detokenize: output format, round trips, exit codes, errors.
set -u
: "${QWENC_BIN:?run through ctest}" "${QWENC_TOKENIZER_DIR:?}" "${QWENC_ROOT:?}"
BIN=$QWENC_BIN
TOK=$QWENC_TOKENIZER_DIR
DEMO=$QWENC_ROOT/models/qwenc-demo
failed=0 passed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); }
fail() { echo "FAILED: $*" >&2; failed=$((failed + 1)); }

# expect_eq WHAT GOT WANT
expect_eq() { if [[ "$2" == "$3" ]]; then ok; else fail "$1: got '$2', want '$3'"; fi; }

# run_cmd STDIN ARGS...: sets out, errout, rc
run_cmd() {
    local input=$1; shift
    printf '%s' "$input" | "$BIN" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out"; echo x); out=${out%x}
    errout=$(cat "$tmp/err")
}

# expect_error WHAT WANT_RC WANT_SUBSTRING: one line on stderr, nothing on stdout
expect_error() {
    expect_eq "$1 exit code" "$rc" "$2"
    if [[ "$errout" != *"$3"* ]]; then fail "$1: stderr '$errout' lacks '$3'"; else ok; fi
    expect_eq "$1 stderr lines" "$(wc -l <"$tmp/err")" 1
    expect_eq "$1 stdout" "$out" ""
}

run_cmd 'Hello, world!' tokenize -m "$TOK"
expect_eq "tokenize" "$out" $'[9707, 11, 1879, 0]\n'
expect_eq "tokenize rc" "$rc" 0

run_cmd '' tokenize -m "$TOK"
expect_eq "tokenize empty" "$out" $'[]\n'

run_cmd '<|im_start|>user' tokenize --model "$TOK"
expect_eq "special token" "$out" $'[151644, 872]\n'

run_cmd '<|im_end|>' tokenize -m "$DEMO"
expect_eq "demo model ids" "$out" $'[16002]\n'

# Round trips through both commands.
for text in 'Hello, world!' $'def f(x):\n    return x  \n' '阿里巴巴 こんにちは 안녕하세요' \
            '😀👍🏽👨‍👩‍👧 🇨🇳' $'<|im_start|>assistant\n<think>\n</think>\n\nok<|im_end|>' '   '; do
    run_cmd "$text" tokenize -m "$TOK"
    ids=$out
    run_cmd "$ids" detokenize -m "$TOK"
    expect_eq "round trip of '$text'" "$out" "$text"
    expect_eq "round trip rc" "$rc" 0
done

run_cmd '[151644, 872, 198, 9707, 151645]' detokenize -m "$TOK" --skip-special
expect_eq "skip special" "$out" $'user\nHello'
run_cmd '[151644, 872, 198, 9707, 151645]' detokenize -m "$TOK"
expect_eq "keep special" "$out" $'<|im_start|>user\nHello<|im_end|>'
run_cmd '[25011, 100]' detokenize -m "$TOK"
expect_eq "invalid bytes become U+FFFD" "$out" '�回�'

# Help and option errors.
run_cmd '' tokenize --help
expect_eq "tokenize --help rc" "$rc" 0
[[ "$out" == *"usage: qwenc tokenize"* ]] && ok || fail "tokenize --help text: $out"
run_cmd '' detokenize --help
expect_eq "detokenize --help rc" "$rc" 0
[[ "$out" == *"--skip-special"* ]] && ok || fail "detokenize --help text: $out"
run_cmd 'x' tokenize -m "$TOK" --bogus
expect_error "unknown option" 2 "unknown option '--bogus'"
run_cmd 'x' tokenize -m "$TOK" --skip-special
expect_error "--skip-special on tokenize" 2 "unknown option"
run_cmd 'x' tokenize
expect_error "missing -m" 2 "missing -m"

# Bad input.
printf 'Hello\xff' | "$BIN" tokenize -m "$TOK" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); errout=$(cat "$tmp/err")
expect_error "invalid UTF-8" 2 "invalid UTF-8 at byte 5"
run_cmd '[1, 2' detokenize -m "$TOK"
expect_error "bad JSON" 2 "invalid JSON"
run_cmd '{"ids": [1]}' detokenize -m "$TOK"
expect_error "not an array" 2 "JSON array"
run_cmd '[1, "two"]' detokenize -m "$TOK"
expect_error "non-integer id" 2 "element 1"
run_cmd '[9707, 151669]' detokenize -m "$TOK"
expect_error "out of range id" 2 "151669"
run_cmd '[-1]' detokenize -m "$TOK"
expect_error "negative id" 2 "-1"
run_cmd 'x' tokenize -m "$tmp/nonexistent"
expect_error "missing directory" 2 "$tmp/nonexistent"
mkdir -p "$tmp/broken"
printf '{"model": {"vocab": {"a": 0,' >"$tmp/broken/tokenizer.json"
run_cmd 'x' tokenize -m "$tmp/broken"
expect_error "corrupt tokenizer.json" 2 "tokenizer.json:1:"
run_cmd '[1]' detokenize -m "$tmp/broken"
expect_error "corrupt tokenizer.json (detokenize)" 2 "tokenizer.json:1:"

# A lone GGUF file is a tokenizer too (its metadata holds the vocabulary).
GGUF=${QWENC_GGUF_FIXTURE:?run through ctest}
text=$'Hello, world! <think>\nhi</think><|im_end|>'
run_cmd "$text" tokenize -m "$TOK"
want=$out
run_cmd "$text" tokenize -m "$GGUF"
expect_eq "tokenize -m FILE.gguf" "$out" "$want"
expect_eq "tokenize -m FILE.gguf rc" "$rc" 0
run_cmd '[9707, 11, 1879, 0, 151645]' detokenize -m "$GGUF" --skip-special
expect_eq "detokenize -m FILE.gguf" "$out" "Hello, world!"
run_cmd '{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true}' template -m "$GGUF"
expect_eq "template -m FILE.gguf" "$out" $'<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'
printf 'GGUF\3\0\0\0' >"$tmp/short.gguf"
run_cmd 'x' tokenize -m "$tmp/short.gguf"
expect_error "truncated GGUF" 2 "$tmp/short.gguf"
printf 'not a model' >"$tmp/plain.txt"
run_cmd 'x' tokenize -m "$tmp/plain.txt"
expect_error "neither directory nor GGUF" 2 "not a directory or a GGUF file"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
