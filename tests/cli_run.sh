#!/usr/bin/env bash
# qwenc run, list, model resolution, --help and unknown options on every
# subcommand, the man page and `cmake --install`.
set -u
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'FAILED: %s\n' "$*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q=$QWENC_BIN
demo=$QWENC_ROOT/models/qwenc-demo

# The bundled demo model is the default; on a pipe: plain text, no summary.
out=$("$q" run "What is 12 + 30?" --greedy 2>"$tmp/err"); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"12 + 30 = 42."* ]]' "run default model: rc $rc, '$out'"
check '[ ! -s "$tmp/err" ]' "run on a pipe printed on stderr: $(cat "$tmp/err")"
check '[[ "$out" != *$'"'"'\033'"'"'* ]]' "run on a pipe printed escape codes"
out=$("$q" run "What is 12 + 30?" --greedy -v 2>"$tmp/err")
check 'grep -Eq "^prompt [0-9]+ tokens, generated [0-9]+ tokens; prefill [0-9.]+ tok/s, decode [0-9.]+ tok/s$" "$tmp/err"' "-v summary: $(cat "$tmp/err")"
out=$("$q" run "What is 12 + 30?" --greedy --hide-thinking)
check '[ "$out" == "12 + 30 = 42." ]' "--hide-thinking: '$out'"
out=$("$q" run "$demo" "Hello!" --no-think --greedy)
check '[ "$out" == "Hello! I am a small demo model running on qwenc. How can I help you?" ]' "MODEL PROMPT --no-think: '$out'"
out=$("$q" run "def fibonacci(n):" --raw --greedy -n 48)
want=$' return 10\n\n    def gi(n): return 10\n\n    def gi(n): return 10\n\n    def gi(n): return 10\n\n    def gi(n): return 10'
check '[ "$out" == "$want" ]' "--raw: '$out'"
out=$(printf 'What is 12 + 30?' | "$q" run -m "$demo" --greedy)
check '[[ "$out" == *"= 42."* ]]' "prompt on stdin: '$out'"

# On a terminal: thinking dimmed, summary on stderr.
if command -v script >/dev/null; then
  script -qec "$q run 'What is 12 + 30?' --greedy" /dev/null > "$tmp/tty" 2>&1
  check 'grep -q $'"'"'\033\[2m'"'"' "$tmp/tty" && grep -q "decode" "$tmp/tty"' "terminal: no dim escape or summary: $(cat -v "$tmp/tty")"
  check 'grep -Eq "loading \[#+\] [0-9.]+ MiB / [0-9.]+ MiB .* ETA" "$tmp/tty"' "terminal: no loading progress bar: $(cat -v "$tmp/tty")"
else
  echo "SKIPPED terminal display check: 'script' (util-linux) is not installed"
fi

# Names from the models directory; qwenc list.
mkdir -p "$tmp/models"
cp -r "$demo" "$tmp/models/mini"
touch "$tmp/models/other.gguf"
out=$(QWENC_MODELS=$tmp/models "$q" run mini "Hello!" --no-think --greedy)
check '[[ "$out" == Hello!* ]]' "run by name: '$out'"
out=$(QWENC_MODELS=$tmp/models "$q" list)
check 'echo "$out" | grep -Eq "^mini +[0-9.]+ MiB +qwen3 +bf16 +10.4M"' "list: $out"
check 'echo "$out" | grep -q "qwenc-demo.*bundled"' "list shows the bundled model: $out"
QWENC_MODELS=$tmp/models "$q" run nosuch "hi" >/dev/null 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "model '"'"'nosuch'"'"' not found" "$tmp/err"' "unknown model: rc $rc $(cat "$tmp/err")"
QWENC_MODELS=$tmp/models "$q" run other "hi" >/dev/null 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "other.gguf" "$tmp/err"' "empty .gguf file: rc $rc $(cat "$tmp/err")"
cp "$QWENC_GGUF_FIXTURE" "$tmp/models/tiny.gguf"
out=$(QWENC_MODELS=$tmp/models "$q" list)
check 'echo "$out" | grep -Eq "^tiny +[0-9.]+ MiB +qwen3 +q8_0 +4.9M"' "list shows a .gguf model: $out"
QWENC_MODELS=$tmp/models "$q" run tiny "hi" -n 4 >/dev/null 2>"$tmp/err"; rc=$?
check '[ $rc -eq 0 ]' "run a .gguf by name: rc $rc $(cat "$tmp/err")"
"$q" run >/dev/null 2>"$tmp/err" </dev/null; rc=$?
check '[ $rc -eq 2 ] && grep -q "empty" "$tmp/err"' "empty stdin prompt: rc $rc $(cat "$tmp/err")"

# Every subcommand: --help exits 0, an unknown option exits 2 with a message.
cmds=$("$q" --help | awk '/^commands:/{on=1; next} on && !NF {exit} on {print $1}')
check '[ $(echo "$cmds" | wc -l) -ge 9 ]' "command list: $cmds"
for c in $cmds; do
  "$q" "$c" --help >"$tmp/out" 2>&1; rc=$?
  check '[ $rc -eq 0 ] && grep -q "usage: qwenc $c" "$tmp/out"' "$c --help: rc $rc"
  "$q" "$c" --no-such-option </dev/null >/dev/null 2>"$tmp/err"; rc=$?
  check '[ $rc -eq 2 ] && grep -q "unknown option '"'"'--no-such-option'"'"'" "$tmp/err"' "$c --no-such-option: rc $rc $(cat "$tmp/err")"
done

# The man page has a section for every command.
bash "$QWENC_ROOT/scripts/make-man" "$q" > "$tmp/qwenc.1"
for c in $cmds; do check 'grep -q "^.SS $c$" "$tmp/qwenc.1"' "man page lacks $c"; done

# cmake --install: binary, libraries, header, pkg-config file, man page, demo model.
if cmake --install "$QWENC_BUILD_DIR" --prefix "$tmp/prefix" >/dev/null 2>"$tmp/err"; then
  for f in bin/qwenc include/qwenc.h lib/libqwenc.a share/man/man1/qwenc.1 share/qwenc/models/qwenc-demo/config.json; do
    check '[ -e "$tmp/prefix/$f" ]' "install lacks $f"
  done
  pc=$(find "$tmp/prefix" -name qwenc.pc | head -1)
  check '[ -n "$pc" ] && PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs qwenc | grep -q -- "-lqwenc"' "pkg-config"
  out=$("$tmp/prefix/bin/qwenc" run "What is 12 + 30?" --greedy --hide-thinking)
  check '[ "$out" == "12 + 30 = 42." ]' "installed binary finds its demo model: '$out'"
else
  bad "cmake --install: $(cat "$tmp/err")"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
