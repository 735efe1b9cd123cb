// response_format json_schema and forced tool calls through `qwenc serve`, judged by ajv
// (run by tests/cli_serve.sh). OPENAI_ENTRY, AJV_ENTRY, AJV_FORMATS_ENTRY: file:// URLs
// of the installed packages; QWENC_URL: a server with the demo model and several slots;
// QWENC_SCHEMAS: how many random schemas (default 200); QWENC_SEED: the generator's seed.
//
// Every reply must end by itself (finish_reason "stop", not "length") and be a document
// ajv accepts for the schema; every forced call must be well-formed, name one of the
// tools (the named one when named) and carry arguments ajv accepts for its parameters.
const { default: OpenAI } = await import(process.env.OPENAI_ENTRY);
const { default: Ajv2020 } = await import(process.env.AJV_ENTRY);
const { default: addFormats } = await import(process.env.AJV_FORMATS_ENTRY);

const client = new OpenAI({ baseURL: process.env.QWENC_URL + "/v1", apiKey: "unused", maxRetries: 0 });
const model = "qwenc-demo";
const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv);

let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; if (failed <= 20) console.log("FAILED: " + what); }
}
const show = (x) => JSON.stringify(x);

// A small seeded generator (mulberry32), so that a failure can be replayed with QWENC_SEED.
let state = Number(process.env.QWENC_SEED ?? Date.now() % 2 ** 31) >>> 0;
const seed0 = state;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];
const maybe = (p) => rand() < p;

// ---- random schemas of the supported subset, small enough to end within max_tokens ----

function stringSchema() {
  if (maybe(0.3)) {
    const format = pick(["date", "time", "date-time", "uuid", "email"]);
    return format === "email" ? { type: "string", format, maxLength: 5 + int(20) } : { type: "string", format };
  }
  const s = { type: "string", maxLength: 1 + int(10) };
  if (maybe(0.3)) s.minLength = int(Math.min(3, s.maxLength + 1));
  return s;
}

function numberSchema() {
  const integer = maybe(0.6), lo = int(200) - 100;
  const s = { type: integer ? "integer" : "number" };
  if (maybe(0.8)) s[maybe(0.2) ? "exclusiveMinimum" : "minimum"] = integer ? lo : lo / 4;
  if (maybe(0.8)) s[maybe(0.2) ? "exclusiveMaximum" : "maximum"] = (integer ? lo : lo / 4) + 2 + int(300);
  return s;
}

function literal() {
  return pick([() => int(50) - 10, () => pick(["red", "green", "blue", "élan", "a b", ""]), () => null, () => maybe(0.5),
    () => int(8) / 4])();
}

function enumSchema() {
  if (maybe(0.3)) return { const: literal() };
  const values = [...new Set(Array.from({ length: 1 + int(4) }, literal).map(show))].map((x) => JSON.parse(x));
  return { enum: values };
}

function objectSchema(depth, defs) {
  const properties = {}, required = [];
  for (let i = 0, n = 1 + int(3); i < n; i++) {
    const name = pick(["name", "id", "size", "tags", "when", "kind", "value", "note"]) + (i ? i : "");
    properties[name] = schema(depth + 1, defs);
    if (maybe(0.6)) required.push(name);
  }
  const s = { type: "object", properties, required };
  if (maybe(0.8)) s.additionalProperties = false;
  return s;
}

function arraySchema(depth, defs) {
  const minItems = int(2);
  return { type: "array", items: schema(depth + 1, defs), minItems, maxItems: minItems + int(3) };
}

function schema(depth, defs) {
  const leaf = depth >= 2;
  switch (int(leaf ? 6 : 11)) {
    case 0: return stringSchema();
    case 1: return numberSchema();
    case 2: return enumSchema();
    case 3: return { type: pick(["boolean", "null"]) };
    case 4: return { type: ["string", "null"], maxLength: 1 + int(8) };
    case 5: return stringSchema();
    case 6: case 7: return objectSchema(depth, defs);
    case 8: return arraySchema(depth, defs);
    case 9: return maybe(0.5) ? { anyOf: [schema(depth + 1, defs), schema(depth + 1, defs)] }
      : { oneOf: [stringSchema(), { type: "null" }, { type: "boolean" }] };
    default: {
      const name = "d" + Object.keys(defs).length;
      defs[name] = true;  // taken before the definition recurses
      defs[name] = schema(depth + 1, defs);
      return { $ref: "#/$defs/" + name };
    }
  }
}

function rootSchema() {
  const defs = {};
  const s = maybe(0.8) ? objectSchema(0, defs) : schema(0, defs);
  if (Object.keys(defs).length) s.$defs = defs;
  return s;
}

// ---- requests, a few at a time (one per slot) ----

async function pool(tasks, width) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

// Sampling as a client of a small model would ask for it: the penalties keep the demo
// model from repeating itself (digits, whitespace) until max_tokens. Thinking is not
// constrained, so where the model thinks first the temperature stays where the demo's
// thoughts stay short.
function sampling(seed, think) {
  return { seed, temperature: think ? 0.6 : 0.8 + rand() * 0.4, top_p: 0.95, frequency_penalty: 0.5,
    repetition_penalty: 1.2, enable_thinking: think };
}

async function schemaCase(i, sch) {
  const validate = ajv.compile(sch);
  const think = maybe(0.2);
  const p = {
    model, max_tokens: 500, ...sampling(int(1e9), think),
    messages: [{ role: "user", content: "Reply in JSON." }],  // one prompt for all: its cache is reused
    response_format: { type: "json_schema", json_schema: { name: "case_" + i, strict: true, schema: sch } },
  };
  const r = await client.chat.completions.create(p);
  const c = r.choices[0];
  const text = c.message.content ?? "";
  let doc, parsed = true;
  try { doc = JSON.parse(text); } catch { parsed = false; }
  const ok = c.finish_reason === "stop" && parsed && validate(doc);
  check(ok, `schema ${i} (seed ${p.seed}, thinking ${think}): ${c.finish_reason} ${show(text)} ${show(validate.errors)}` +
    ` (thought ${show((c.message.reasoning_content ?? "").slice(0, 300))})\n  ${show(sch)}`);
  return r.usage.completion_tokens;
}

const weatherParams = {
  type: "object",
  properties: { city: { type: "string", maxLength: 20 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["city"], additionalProperties: false,
};
const tools = [
  { type: "function", function: { name: "get_weather", description: "Get the current weather in a city", parameters: weatherParams } },
  { type: "function", function: { name: "get_time", description: "The time in a time zone",
    parameters: { type: "object", properties: { zone: { type: "string", maxLength: 12 } }, required: ["zone"] } } },
  { type: "function", function: { name: "add", description: "Add two integers",
    parameters: { type: "object", properties: { a: { type: "integer", minimum: -99, maximum: 99 },
      b: { type: "integer", minimum: -99, maximum: 99 } }, required: ["a", "b"], additionalProperties: false } } },
  { type: "function", function: { name: "ping", description: "No arguments" } },
];
const toolValidators = Object.fromEntries(tools.map((t) =>
  [t.function.name, ajv.compile(t.function.parameters ?? { type: "object", additionalProperties: false })]));

async function toolCase(i, choice, messages) {
  const p = { model, messages, tools, tool_choice: choice, max_tokens: 300, ...sampling(int(1e9), i % 2 === 0) };
  const r = await client.chat.completions.create(p);
  const c = r.choices[0], calls = c.message.tool_calls ?? [];
  const named = typeof choice === "object" ? choice.function.name : null;
  let ok = c.finish_reason === "tool_calls" && calls.length >= 1;
  for (const call of calls) {
    let args = null;
    try { args = JSON.parse(call.function.arguments); } catch { }
    const v = toolValidators[call.function.name];
    ok &&= call.type === "function" && /^call_/.test(call.id) && (!named || call.function.name === named) &&
      v !== undefined && args !== null && v(args);
  }
  check(ok, `tool case ${i} (${show(choice)}, seed ${p.seed}): ${c.finish_reason} ${show(c.message)}`);
}

const t0 = Date.now();
const n = Number(process.env.QWENC_SCHEMAS ?? 200);
const schemas = Array.from({ length: n }, rootSchema);
let tokens = 0;
await pool(schemas.map((s, i) => async () => {
  try { tokens += await schemaCase(i, s); } catch (e) { check(false, `schema ${i}: ${e}\n  ${show(s)}`); }
}), 4);
const tSchemas = (Date.now() - t0) / 1000;

const asks = [[{ role: "user", content: "What's the weather in Paris?" }], [{ role: "user", content: "What is 12 + 30?" }],
  [{ role: "user", content: "Hello!" }], [{ role: "user", content: "What time is it in Tokyo?" }]];
const choices = ["required", ...tools.map((t) => ({ type: "function", function: { name: t.function.name } }))];
const toolTasks = [];
for (let i = 0; i < 40; i++) toolTasks.push(() => toolCase(i, choices[i % choices.length], asks[i % asks.length]).catch(
  (e) => check(false, `tool case ${i}: ${e}`)));
await pool(toolTasks, 4);

// Streamed and not: the same document for the same seed.
const sch = { type: "object", properties: { name: { type: "string", maxLength: 8 }, n: { type: "integer", minimum: 0, maximum: 9 } },
  required: ["name", "n"], additionalProperties: false };
const sp = { model, messages: [{ role: "user", content: "JSON please" }], max_tokens: 200, ...sampling(7, true),
  response_format: { type: "json_schema", json_schema: { name: "s", schema: sch } } };
const whole = (await client.chat.completions.create(sp)).choices[0].message.content;
let streamed = "";
for await (const chunk of await client.chat.completions.create({ ...sp, stream: true })) streamed += chunk.choices[0]?.delta?.content ?? "";
check(streamed === whole && ajv.validate(sch, JSON.parse(whole)), `streamed ${show(streamed)} != ${show(whole)}`);

console.log(`json_schema client: ${n} schemas (seed ${seed0}) in ${tSchemas.toFixed(1)} s, ${tokens} tokens; ` +
  `40 forced tool calls; all in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`json_schema client: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
