#!/usr/bin/env bash
# qwenc serve end to end with real clients: curl for every route and error
# class, a client that leaves mid-stream, a full queue, clean shutdown; then
# the official openai npm package (tests/server/openai_client.mjs) for chat,
# streaming, seeds, tool calls, stop strings, logprobs and json_object; and
# tests/server/json_schema_client.mjs for json_schema and forced tool calls,
# judged by ajv. The model is the bundled demo model, which really answers
# and calls tools.
set -u
. "$(dirname "$0")/server/lib.sh"

# req CURL-ARGS...: sets code (HTTP status) and body.
req() {
    body=$(curl -s -w '\n%{http_code}' "$@")
    code=${body##*$'\n'}
    body=${body%$'\n'*}
}

# js EXPR: EXPR (JavaScript, with the parsed $body as r) is true.
js() { node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); process.exit((('"$1"')) ? 0 : 1)' <<<"$body" 2>/dev/null; }

# expect_json WHAT STATUS EXPR CURL-ARGS...
expect_json() {
    local what=$1 want=$2 expr=$3; shift 3
    req "$@"
    check '[ "$code" = "$want" ] && js "$expr"' "$what: HTTP $code (want $want), $body"
}

# expect_error WHAT STATUS PARAM CODE CURL-ARGS...: OpenAI's error shape,
# {"error": {"message", "type", "param", "code"}}; PARAM and CODE are the
# expected values as JavaScript ("null" or a quoted string).
expect_error() {
    local what=$1 want=$2 param=$3 ecode=$4; shift 4
    local type='"invalid_request_error"'
    [ "$want" = 401 ] && type='"authentication_error"'
    expect_json "$what" "$want" "Object.keys(r).join() === \"error\" && Object.keys(r.error).sort().join() === \"code,message,param,type\" &&
        typeof r.error.message === \"string\" && r.error.message.length > 0 && r.error.type === $type &&
        r.error.param === $param && r.error.code === $ecode" "$@"
}

# wait_for COND: polls the shell condition COND for a few seconds.
wait_for() {
    local i
    for ((i = 0; i < 50 * slow; i++)); do
        eval "$1" && return 0
        sleep 0.1
    done
    return 1
}

# metric URL NAME: the value of one /metrics sample line.
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }

demo_q='{"role": "user", "content": "What is 12 + 30?"}'

# ---- server A: defaults (demo model, no key), two slots ------------------------------------------
start_server a --parallel 2
A=$url_a
J=(-H 'Content-Type: application/json')

expect_json "/health" 200 'r.status === "ok"' "$A/health"
expect_json "/v1/models" 200 'r.object === "list" && r.data.length === 1 && r.data[0].id === "qwenc-demo" &&
    r.data[0].object === "model" && r.data[0].owned_by === "qwenc" && Number.isInteger(r.data[0].created)' "$A/v1/models"
expect_json "/v1/models/qwenc-demo" 200 'r.id === "qwenc-demo" && r.object === "model"' "$A/v1/models/qwenc-demo"
expect_error "/v1/models/unknown" 404 '"model"' '"model_not_found"' "$A/v1/models/no-such-model"

# Chat, not streamed: the demo answers with its reasoning first.
expect_json "chat" 200 'r.object === "chat.completion" && /^chatcmpl-/.test(r.id) && r.model === "qwenc-demo" &&
    r.choices.length === 1 && r.choices[0].index === 0 && r.choices[0].finish_reason === "stop" &&
    r.choices[0].message.role === "assistant" && r.choices[0].message.content.includes("42") &&
    r.choices[0].message.reasoning_content.includes("42") && !r.choices[0].message.content.includes("<think>") &&
    !("tool_calls" in r.choices[0].message) && r.usage.prompt_tokens > 10 && r.usage.completion_tokens > 5 &&
    r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens' \
    "${J[@]}" "$A/v1/chat/completions" -d "{\"model\": \"qwenc-demo\", \"messages\": [$demo_q], \"temperature\": 0}"
chat_answer=$body
expect_json "chat, no model field, greedy" 200 "r.choices[0].message.content === $(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).choices[0].message.content))' "$chat_answer")" \
    "$A/v1/chat/completions" -d "{\"messages\": [$demo_q], \"temperature\": 0}"
expect_json "chat, thinking off" 200 'r.choices[0].message.content.startsWith("12 + 30 =") && !("reasoning_content" in r.choices[0].message)' \
    "$A/v1/chat/completions" -d "{\"messages\": [$demo_q], \"temperature\": 0, \"enable_thinking\": false}"
expect_json "chat, content as text parts" 200 'r.choices[0].message.content.includes("42")' \
    "$A/v1/chat/completions" -d '{"messages": [{"role": "user", "content": [{"type": "text", "text": "What is 12 + 30?"}]}], "temperature": 0}'

# Streamed over SSE: chunks, a usage chunk, [DONE].
curl -s -N "$A/v1/chat/completions" -d "{\"messages\": [$demo_q], \"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}}" >"$tmp/sse"
node - "$tmp/sse" "$chat_answer" <<'EOF' >"$tmp/sse.check" 2>&1
const fs = require("fs");
const text = fs.readFileSync(process.argv[2], "utf8"), want = JSON.parse(process.argv[3]);
const events = text.split("\n\n").filter((e) => e.length);
if (!events.every((e) => e.startsWith("data: "))) throw new Error("an event is not 'data: ...'");
if (events.at(-1) !== "data: [DONE]") throw new Error("no data: [DONE] at the end");
const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
let content = "", reasoning = "", finish = null, usage = null;
for (const c of chunks) {
  if (c.object !== "chat.completion.chunk" || c.id !== chunks[0].id) throw new Error("bad chunk " + JSON.stringify(c));
  if (c.usage) usage = c.usage;
  for (const ch of c.choices) {
    content += ch.delta.content ?? "";
    reasoning += ch.delta.reasoning_content ?? "";
    if (ch.finish_reason) finish = ch.finish_reason;
  }
}
const m = want.choices[0].message;
if (chunks[0].choices[0].delta.role !== "assistant") throw new Error("first delta has no role");
if (content !== m.content || reasoning !== m.reasoning_content) throw new Error(`stream ${JSON.stringify([content, reasoning])} != ${JSON.stringify([m.content, m.reasoning_content])}`);
if (finish !== "stop") throw new Error("finish_reason " + finish);
if (!usage || chunks.at(-1).choices.length !== 0 || usage.completion_tokens !== want.usage.completion_tokens) throw new Error("usage chunk " + JSON.stringify(chunks.at(-1)));
EOF
check '[ $? -eq 0 ]' "chat stream: $(cat "$tmp/sse.check") $(head -c 2000 "$tmp/sse")"

# Completions: a string prompt and the same prompt as token ids give the same text.
expect_json "/tokenize" 200 'Array.isArray(r.tokens) && r.tokens.length === r.count && r.count > 3' \
    "$A/tokenize" -d '{"content": "def fibonacci(n):"}'
ids=$(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).tokens))' "$body")
expect_json "/detokenize round trip" 200 'r.content === "def fibonacci(n):"' "$A/detokenize" -d "{\"tokens\": $ids}"
expect_json "/tokenize messages" 200 'r.count > 5' "$A/tokenize" -d "{\"messages\": [$demo_q]}"
expect_json "completion, string prompt" 200 'r.object === "text_completion" && /^cmpl-/.test(r.id) &&
    r.choices[0].text.length > 0 && r.choices[0].finish_reason === "length" && r.usage.completion_tokens === 12' \
    "$A/v1/completions" -d '{"prompt": "def fibonacci(n):", "max_tokens": 12, "temperature": 0}'
text=$(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).choices[0].text))' "$body")
expect_json "completion, token-id prompt" 200 "r.choices[0].text === $text && r.usage.prompt_tokens === $ids.length" \
    "$A/v1/completions" -d "{\"prompt\": $ids, \"max_tokens\": 12, \"temperature\": 0}"
req "$A/v1/completions" -d '{"prompt": "def fibonacci(n):", "max_tokens": 12, "temperature": 0, "stream": true}'
streamed=$(printf '%s\n' "$body" | node -e '
  const ev = require("fs").readFileSync(0, "utf8").split("\n\n").filter((e) => e.trim());
  console.log(JSON.stringify(ev.slice(0, -1).map((e) => JSON.parse(e.slice(6)).choices[0].text).join("")));' 2>&1)
check '[ "$streamed" = "$text" ]' "streamed completion $streamed != $text"

# Every error class, in OpenAI's shape.
expect_error "bad JSON" 400 null null "$A/v1/chat/completions" -d '{"messages": ['
expect_error "body not an object" 400 null null "$A/v1/chat/completions" -d '[1, 2]'
expect_error "empty body" 400 null null -X POST "$A/v1/chat/completions"
printf '{"messages": [{"role": "user", "content": "\xff\xfe"}]}' >"$tmp/latin1"
expect_error "body not UTF-8 (the field is named)" 400 '"messages[0].content"' null "$A/v1/chat/completions" --data-binary @"$tmp/latin1"
expect_error "deeply nested body" 400 null null "$A/v1/chat/completions" -d "$(printf '[%.0s' $(seq 5000))"
expect_error "streamed request with a bad field" 400 '"stream_options"' null "$A/v1/chat/completions" \
    -d "{\"messages\": [$demo_q], \"stream\": true, \"stream_options\": 3}"
expect_error "temperature not a number" 400 '"temperature"' null "$A/v1/chat/completions" \
    -d "{\"messages\": [$demo_q], \"temperature\": \"hot\"}"
expect_error "max_tokens negative" 400 '"max_tokens"' null "$A/v1/chat/completions" -d "{\"messages\": [$demo_q], \"max_tokens\": -1}"
expect_error "messages missing" 400 '"messages"' null "$A/v1/chat/completions" -d '{"model": "qwenc-demo"}'
expect_error "bad role" 400 '"messages[0]"' null "$A/v1/chat/completions" -d '{"messages": [{"role": "robot", "content": "hi"}]}'
expect_error "prompt missing" 400 '"prompt"' null "$A/v1/completions" -d '{"max_tokens": 3}'
expect_error "token id out of range" 400 '"prompt"' null "$A/v1/completions" -d '{"prompt": [1, 99999999]}'
expect_error "unknown model" 404 '"model"' '"model_not_found"' "$A/v1/chat/completions" \
    -d "{\"model\": \"gpt-4o\", \"messages\": [$demo_q]}"
expect_error "unknown route" 404 null '"not_found"' "$A/v1/embeddings" -d '{}'
expect_error "wrong method" 405 null null -X GET "$A/v1/chat/completions"
expect_error "wrong method on /v1/models" 405 null null -X POST "$A/v1/models" -d '{}'
long=$(printf 'word %.0s' $(seq 2100))
expect_error "prompt longer than the context (chat)" 400 '"messages"' '"context_length_exceeded"' \
    "$A/v1/chat/completions" -d "{\"messages\": [{\"role\": \"user\", \"content\": \"$long\"}]}"
expect_error "prompt longer than the context (completions)" 400 '"prompt"' '"context_length_exceeded"' \
    "$A/v1/completions" -d "{\"prompt\": \"$long\"}"
# response_format json_schema and forced tool calls: whatever the automaton cannot follow is a 400 naming the
# keyword (or value) and its JSON path, before anything is generated.
# expect_schema_error WHAT PARAM SUBSTRING REQUEST: a 400 on PARAM whose message contains SUBSTRING.
# The answers are recorded and judged together by check_schema_errors (one node process for all).
schema_errors=$tmp/schema_errors.tsv
expect_schema_error() {
    local what=$1 param=$2 sub=$3 request=$4
    req "$A/v1/chat/completions" -d "$request"
    printf '%s\t%s\t%s\t%s\t%s\n' "$code" "$param" "$sub" "$what" "$body" >>"$schema_errors"
}
check_schema_errors() {
    local out line
    out=$(node -e 'let ok = 0;
        for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
          const [code, param, sub, what, body] = l.split("\t");
          let e = null;
          try { e = JSON.parse(body).error; } catch { }
          if (code === "400" && e && e.param === param && e.type === "invalid_request_error" && e.message.includes(sub)) ok++;
          else console.log(`${what}: HTTP ${code}, want 400 on ${param} with "${sub}": ${body}`);
        }
        console.log("ok " + ok);' "$schema_errors")
    while IFS= read -r line; do
        case $line in "ok "*) pass=$((pass + ${line#ok })) ;; *) bad "$line" ;; esac
    done <<<"$out"
}
# rf_schema SCHEMA: a chat request whose response_format is json_schema with SCHEMA.
rf_schema() { printf '{"messages": [%s], "max_tokens": 8, "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": %s}}}' "$demo_q" "$1"; }
while IFS='|' read -r want schema; do
    [ -z "$want" ] && continue
    expect_schema_error "json_schema $schema" response_format "$want" "$(rf_schema "$schema")"
done <<'EOF_CASES'
unsupported keyword 'pattern' at #/properties/code|{"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]+$"}}}
unsupported keyword 'multipleOf' at #|{"type": "integer", "multipleOf": 5}
unsupported keyword 'patternProperties' at #|{"type": "object", "patternProperties": {"^x": {}}}
unsupported keyword 'minProperties' at #|{"type": "object", "minProperties": 1}
unsupported keyword 'maxProperties' at #|{"type": "object", "maxProperties": 1}
unsupported keyword 'propertyNames' at #|{"type": "object", "propertyNames": {"maxLength": 3}}
unsupported keyword 'dependentRequired' at #|{"type": "object", "dependentRequired": {"a": ["b"]}}
unsupported keyword 'dependentSchemas' at #|{"type": "object", "dependentSchemas": {"a": {}}}
unsupported keyword 'contains' at #/items|{"type": "array", "items": {"type": "array", "contains": {"type": "integer"}}}
unsupported keyword 'minContains' at #|{"type": "array", "minContains": 1}
unsupported keyword 'prefixItems' at #|{"type": "array", "prefixItems": [{"type": "integer"}]}
unsupported keyword 'if' at #|{"if": {"type": "string"}, "then": {"maxLength": 2}}
unsupported keyword 'not' at #/properties/a|{"type": "object", "properties": {"a": {"not": {"type": "null"}}}}
unsupported keyword 'unevaluatedProperties' at #|{"type": "object", "unevaluatedProperties": false}
unsupported keyword 'unevaluatedItems' at #|{"type": "array", "unevaluatedItems": false}
unsupported keyword 'contentEncoding' at #|{"type": "string", "contentEncoding": "base64"}
unsupported keyword 'contentMediaType' at #|{"type": "string", "contentMediaType": "text/html"}
unsupported keyword '$anchor' at #/$defs/a|{"$defs": {"a": {"$anchor": "x"}}, "$ref": "#/$defs/a"}
unsupported keyword '$dynamicRef' at #|{"$dynamicRef": "#x"}
unsupported keyword 'nullable' at #|{"type": "string", "nullable": true}
unsupported format 'uri' at #/format|{"type": "string", "format": "uri"}
'uniqueItems': true at #/uniqueItems|{"type": "array", "uniqueItems": true}
'items' array (tuples) at #/items|{"type": "array", "items": [{"type": "integer"}]}
'additionalProperties' schema|{"type": "object", "additionalProperties": {"type": "integer"}}
unsupported 'allOf' (only one subschema) at #/allOf|{"allOf": [{"type": "string"}, {"maxLength": 3}]}
'type' beside 'anyOf' is not supported at #|{"type": "string", "anyOf": [{"maxLength": 1}, {"minLength": 3}]}
'type' beside '$ref' is not supported|{"$defs": {"a": {}}, "$ref": "#/$defs/a", "type": "string"}
'maxLength' beside 'enum'/'const' is not supported|{"enum": ["a", "bb"], "maxLength": 1}
unsupported '$ref' 'https://example.com/s.json' (only local|{"$ref": "https://example.com/s.json"}
unsupported 'oneOf': alternatives 0 and 1 may both match|{"oneOf": [{"type": "integer"}, {"type": "number"}]}
'minLength' above 10 with format 'date' is not supported|{"type": "string", "format": "date", "minLength": 12}
a bounded number must lie within|{"type": "number", "minimum": 1e300}
unknown type 'text' at #/type|{"type": "text"}
'minLength' must be a non-negative integer at #/minLength|{"type": "string", "minLength": -1}
'minLength' 5 is greater than 'maxLength' 2 at #|{"type": "string", "minLength": 5, "maxLength": 2}
'enum' must be a non-empty array at #/enum|{"enum": []}
no value of 'enum' is allowed by the schema's 'type' at #/enum|{"type": "integer", "enum": ["a"]}
'required' names 'a' twice at #/required|{"type": "object", "required": ["a", "a"]}
'b' is required but 'additionalProperties' is false at #/required|{"type": "object", "properties": {"a": {}}, "required": ["b"], "additionalProperties": false}
'$ref' '#/$defs/missing' points to nothing at #/$ref|{"$ref": "#/$defs/missing"}
circular '$ref'|{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
no JSON document of at most 64 nested levels satisfies the schema|{"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}, "required": ["next"]}}, "$ref": "#/$defs/n"}
no JSON document|false
a schema must be an object or a boolean at #/properties/a|{"type": "object", "properties": {"a": 1}}
'response_format.json_schema.schema' must be a JSON Schema object|5
EOF_CASES
rf_bad() { printf '{"messages": [%s], "response_format": %s}' "$demo_q" "$1"; }
while IFS='|' read -r want rf; do
    [ -z "$want" ] && continue
    expect_schema_error "response_format $rf" response_format "$want" "$(rf_bad "$rf")"
done <<'EOF_CASES'
'response_format.json_schema' must be an object|{"type": "json_schema"}
'response_format.json_schema' must be an object|{"type": "json_schema", "json_schema": [1]}
'response_format.json_schema.name' must be 1-64 letters|{"type": "json_schema", "json_schema": {"schema": {}}}
'response_format.json_schema.name' must be 1-64 letters|{"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}
'response_format.json_schema.name' must be 1-64 letters|{"type": "json_schema", "json_schema": {"name": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "schema": {}}}
'response_format.json_schema.strict' must be a boolean|{"type": "json_schema", "json_schema": {"name": "a", "strict": "yes", "schema": {}}}
'response_format.json_schema.description' must be a string|{"type": "json_schema", "json_schema": {"name": "a", "description": 1, "schema": {}}}
response_format type 'xml' is not supported|{"type": "xml"}
'response_format' must be an object with a 'type'|"json"
EOF_CASES
# tool_req CHOICE PARAMETERS: a chat request with one tool.
tool_req() { printf '{"messages": [%s], "max_tokens": 4, "tool_choice": %s, "tools": [{"type": "function", "function": {"name": "f", "parameters": %s}}]}' "$demo_q" "$1" "$2"; }
expect_schema_error "tool_choice required, a tool with pattern" tools \
    "tools[0].function.parameters: unsupported keyword 'pattern' at #/properties/x" \
    "$(tool_req '"required"' '{"type": "object", "properties": {"x": {"type": "string", "pattern": "a"}}}')"
expect_schema_error "named tool_choice, parameters not an object" tools "tools[0].function.parameters: the parameters must be an object schema" \
    "$(tool_req '{"type": "function", "function": {"name": "f"}}' '{"type": "string"}')"
check_schema_errors
expect_json "tool_choice auto: parameters are not compiled" 200 'r.choices.length === 1' "$A/v1/chat/completions" \
    -d "$(tool_req '"auto"' '{"type": "object", "properties": {"x": {"type": "string", "pattern": "a"}}}')"
expect_json "json_schema on /v1/completions" 200 'JSON.parse(r.choices[0].text).n >= 3 && r.choices[0].finish_reason === "stop"' \
    "$A/v1/completions" -d '{"prompt": "{", "max_tokens": 64, "seed": 1, "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 9}}, "required": ["n"], "additionalProperties": false}}}}'
expect_error "completions: a bad json_schema" 400 '"response_format"' null "$A/v1/completions" \
    -d '{"prompt": "x", "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": {"pattern": "a"}}}}'

expect_json "still serving after the errors" 200 'r.choices[0].message.content.includes("42")' \
    "$A/v1/chat/completions" -d "{\"messages\": [$demo_q], \"temperature\": 0, \"max_tokens\": 64}"

# One log line per request: method, path, status, tokens, milliseconds.
check 'grep -Eq "^qwenc serve: POST /v1/chat/completions 200 prompt=[0-9]+ cached=[0-9]+ completion=[0-9]+ [0-9]+ms$" "$tmp/a.log"' \
    "no log line for a chat request: $(tail -5 "$tmp/a.log")"
curl -s -o /dev/null "$A/v1/nothing-here"
wait_for 'grep -Eq "^qwenc serve: GET /v1/nothing-here 404 [0-9]+ms$" "$tmp/a.log"'
check 'grep -Eq "^qwenc serve: GET /v1/nothing-here 404 [0-9]+ms$" "$tmp/a.log"' "no log line for a 404: $(tail -3 "$tmp/a.log")"

# /metrics: the documented names, and the counters move.
curl -s "$A/metrics" >"$tmp/m1"
for name in qwenc_requests_total qwenc_prompt_tokens_total qwenc_completion_tokens_total \
    qwenc_time_to_first_token_seconds qwenc_decode_tokens_per_second qwenc_queue_depth qwenc_slots_busy \
    qwenc_slots_total qwenc_kv_cache_usage_ratio; do
    check 'grep -q "^# TYPE $name " "$tmp/m1"' "/metrics lacks $name"
done
ok200=$(awk '$1 == "qwenc_requests_total{status=\"200\"}" {print $2}' "$tmp/m1")
ok400=$(awk '$1 == "qwenc_requests_total{status=\"400\"}" {print $2}' "$tmp/m1")
ctok=$(awk '$1 == "qwenc_completion_tokens_total" {print $2}' "$tmp/m1")
check '[ "${ok400:-0}" -ge 8 ] && [ "$(awk '"'"'$1 == "qwenc_slots_total" {print $2}'"'"' "$tmp/m1")" = 2 ]' "/metrics: $(head -c 600 "$tmp/m1")"
curl -s -o /dev/null "$A/v1/completions" -d '{"prompt": "def", "max_tokens": 5, "temperature": 0}'
curl -s -o /dev/null "$A/v1/chat/completions" -d '{"bad json'
# The log line and the counters come after the response: poll.
moved='curl -s "$A/metrics" >"$tmp/m2" &&
    [ "$(awk '"'"'$1 == "qwenc_requests_total{status=\"200\"}" {print $2}'"'"' "$tmp/m2")" -ge $((ok200 + 2)) ] &&
    [ "$(awk '"'"'$1 == "qwenc_requests_total{status=\"400\"}" {print $2}'"'"' "$tmp/m2")" -eq $((ok400 + 1)) ] &&
    [ "$(awk '"'"'$1 == "qwenc_completion_tokens_total" {print $2}'"'"' "$tmp/m2")" -eq $((ctok + 5)) ]'
wait_for "$moved"
check "$moved" "/metrics counters did not move as expected (+2 200s, +1 400, +5 tokens): before 200=$ok200 400=$ok400 tokens=$ctok; after $(grep -E '^qwenc_(requests|completion)' "$tmp/m2" | tr '\n' ' ')"

# A client that leaves mid-stream: the server logs it, frees the slot and serves on.
long_gen='{"prompt": "def fibonacci(n):", "temperature": 0, "max_tokens": 1900, "stream": true}'
curl -s -N --max-time 1 "$A/v1/completions" -d "$long_gen" >"$tmp/cut"
check '[ "$(grep -c "^data: " "$tmp/cut")" -ge 2 ] && ! grep -q "DONE" "$tmp/cut"' "cut stream: $(head -c 300 "$tmp/cut")"
curl -s --max-time 1 "$A/v1/completions" -d "${long_gen/\"stream\": true/\"stream\": false}" >/dev/null
wait_for '[ "$(grep -c "^qwenc serve: POST /v1/completions 499 " "$tmp/a.log")" -ge 2 ] && [ "$(metric "$A" qwenc_slots_busy)" = 0 ]'
check '[ "$(grep -c "^qwenc serve: POST /v1/completions 499 " "$tmp/a.log")" -eq 2 ]' "disconnects not logged as 499: $(tail -5 "$tmp/a.log")"
check '[ "$(metric "$A" qwenc_slots_busy)" = 0 ]' "slots still busy after the clients left"
n=$(grep "POST /v1/completions 499 " "$tmp/a.log" | sed -n 's/.* completion=\([0-9]*\) .*/\1/p' | sort -n | tail -1)
check '[ "${n:-1900}" -lt 1900 ]' "the generation went on to the end after the client left: completion=$n"
expect_json "answers after the disconnects" 200 'r.choices[0].message.content.includes("42")' \
    "$A/v1/chat/completions" -d "{\"messages\": [$demo_q], \"temperature\": 0}"

# ---- server B: API key, small context and body, a queue of one --------------------------------
start_server b --api-key sekrit --ctx 256 --max-body 4096 --queue 1 --parallel 1 --alias demo
B=$url_b
K=(-H 'Authorization: Bearer sekrit')
expect_json "/health without a key" 200 'r.status === "ok"' "$B/health"
expect_error "no key" 401 null '"invalid_api_key"' "$B/v1/models"
expect_error "wrong key" 401 null '"invalid_api_key"' -H 'Authorization: Bearer sekriT' "$B/v1/models"
expect_error "key prefix" 401 null '"invalid_api_key"' -H 'Authorization: Bearer sekri' "$B/v1/models"
expect_error "key not bearer" 401 null '"invalid_api_key"' -H 'Authorization: Basic sekrit' "$B/v1/models"
expect_error "no key, chat" 401 null '"invalid_api_key"' "$B/v1/chat/completions" -d "{\"messages\": [$demo_q]}"
expect_json "right key, --alias" 200 'r.data[0].id === "demo" && r.data[0].max_model_len === 256' "${K[@]}" "$B/v1/models"
expect_error "model name is the alias" 404 '"model"' '"model_not_found"' "${K[@]}" "$B/v1/chat/completions" \
    -d "{\"model\": \"qwenc-demo\", \"messages\": [$demo_q]}"
expect_error "prompt longer than --ctx" 400 '"messages"' '"context_length_exceeded"' "${K[@]}" "$B/v1/chat/completions" \
    -d "{\"messages\": [{\"role\": \"user\", \"content\": \"$(printf 'word %.0s' $(seq 300))\"}]}"
expect_error "body over --max-body" 413 null '"request_too_large"' "${K[@]}" "$B/v1/chat/completions" \
    -d "{\"messages\": [{\"role\": \"user\", \"content\": \"$(printf 'x%.0s' $(seq 5000))\"}]}"
printf '{"prompt": "%s"}' "$(printf 'x%.0s' $(seq 5000))" >"$tmp/big"
expect_error "chunked body over --max-body" 413 null '"request_too_large"' "${K[@]}" -H 'Transfer-Encoding: chunked' \
    "$B/v1/completions" --data-binary @"$tmp/big"
expect_json "generation answers within the limits" 200 'r.choices[0].message.content.includes("42")' "${K[@]}" \
    "$B/v1/chat/completions" -d "{\"model\": \"demo\", \"messages\": [$demo_q], \"temperature\": 0}"

# A full queue: one slot, one waiting; the rest get 503, none a 500.
qpids=()
for i in 1 2 3 4 5 6; do
    curl -s -o "$tmp/q$i" -w '%{http_code}' "${K[@]}" "$B/v1/completions" \
        -d '{"prompt": "def fibonacci(n):", "max_tokens": 150, "temperature": 0}' >"$tmp/q$i.code" &
    qpids+=($!)
done
wait "${qpids[@]}"
codes=$(cat "$tmp"/q?.code | sort | uniq -c | tr -s ' \n' ' ')
n503=$(grep -l 503 "$tmp"/q?.code | wc -l)
n200=$(grep -l 200 "$tmp"/q?.code | wc -l)
check '[ "$n503" -ge 1 ] && [ "$n200" -ge 2 ] && [ $((n200 + n503)) -eq 6 ]' "queue full: codes $codes"
for f in "$tmp"/q?; do
    if grep -q 503 "$f.code"; then body=$(cat "$f"); check 'js "r.error.type === \"server_error\" && r.error.code === \"queue_full\" && r.error.message.length > 0"' "503 body: $body"; fi
done

# SIGTERM while a client is reading a stream: the server still exits cleanly.
curl -s -N "${K[@]}" "$B/v1/completions" -d '{"prompt": "def fibonacci(n):", "temperature": 0, "max_tokens": 200, "stream": true}' >"$tmp/shut" &
cpid=$!
wait_for 'grep -q "^data: " "$tmp/shut"'
stop_server b
wait "$cpid"

# ---- the official openai client --------------------------------------------------------------------
npm_dir=$QWENC_BUILD_DIR/npm
openai_version=7.57.0
# ajv (with ajv-formats) judges the json_schema replies: a validator written apart from qwenc's.
npm_packages="openai@$openai_version ajv@8.17.1 ajv-formats@3.0.1"
have=$(node -e 'const d = process.argv[1] + "/node_modules/"; try { console.log(["openai", "ajv", "ajv-formats"].map((p) =>
    p + "@" + require(d + p + "/package.json").version).join(" ")) } catch { }' "$npm_dir")
if [ "$have" != "$npm_packages" ]; then
    # shellcheck disable=SC2086
    if ! npm install --no-audit --no-fund --loglevel=error --prefix "$npm_dir" $npm_packages >"$tmp/npm.log" 2>&1; then
        bad "npm install $npm_packages into $npm_dir failed (the npm registry must be reachable): $(tail -5 "$tmp/npm.log")"
    fi
fi
if [ -f "$npm_dir/node_modules/openai/index.mjs" ]; then
    start_server c --api-key client-key --ctx 512 --queue 4 --parallel 2
    OPENAI_ENTRY="file://$npm_dir/node_modules/openai/index.mjs" QWENC_URL_A="$A" QWENC_URL_C="$url_c" QWENC_KEY_C=client-key \
        node "$QWENC_ROOT/tests/server/openai_client.mjs" >"$tmp/client.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "openai client tests (exit $rc):
$(cat "$tmp/client.out")"
    grep '^openai client: ' "$tmp/client.out"
    stop_server c
else
    bad "the openai package is not in $npm_dir"
fi
# response_format json_schema: random schemas x random seeds, and forced tool calls, judged by ajv.
if [ -f "$npm_dir/node_modules/ajv/dist/2020.js" ] && [ -f "$npm_dir/node_modules/ajv-formats/dist/index.js" ]; then
    start_server d --parallel 4 --ctx 1024
    schemas=200
    [ -n "${QWENC_SANITIZED:-}" ] && schemas=40
    OPENAI_ENTRY="file://$npm_dir/node_modules/openai/index.mjs" AJV_ENTRY="file://$npm_dir/node_modules/ajv/dist/2020.js" \
        AJV_FORMATS_ENTRY="file://$npm_dir/node_modules/ajv-formats/dist/index.js" QWENC_URL="$url_d" QWENC_SCHEMAS=$schemas \
        node "$QWENC_ROOT/tests/server/json_schema_client.mjs" >"$tmp/schema.out" 2>&1
    rc=$?
    check '[ $rc -eq 0 ]' "json_schema client tests (exit $rc):
$(cat "$tmp/schema.out")"
    grep '^json_schema client: ' "$tmp/schema.out"
    check '! grep -E "qwenc serve: [A-Z]+ [^ ]+ 500 " "$tmp/d.log"' "server D answered 500: $(grep ' 500 ' "$tmp/d.log")"
    stop_server d
else
    bad "ajv and ajv-formats are not in $npm_dir"
fi

check '! grep -E "qwenc serve: [A-Z]+ [^ ]+ 500 " "$tmp/a.log"' "server A answered 500: $(grep ' 500 ' "$tmp/a.log")"
stop_server a
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
