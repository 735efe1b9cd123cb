// qwenc serve driven by the official openai npm package (run by tests/cli_serve.sh).
// OPENAI_ENTRY: file:// URL of the installed package's index.mjs; QWENC_URL_A: a server
// with the demo model, no key, two slots; QWENC_URL_C: one with --api-key QWENC_KEY_C
// and --ctx 512. The demo model really thinks, answers and calls get_weather.
const { default: OpenAI } = await import(process.env.OPENAI_ENTRY);

const model = "qwenc-demo";
const client = new OpenAI({ baseURL: process.env.QWENC_URL_A + "/v1", apiKey: "unused", maxRetries: 0 });
const keyed = new OpenAI({ baseURL: process.env.QWENC_URL_C + "/v1", apiKey: process.env.QWENC_KEY_C, maxRetries: 0 });

let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAILED: " + what); }
}
const show = (x) => JSON.stringify(x);

// The exact tool the demo was trained with (models/qwenc-demo/TRAINING.txt).
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string", description: "City name" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      },
      required: ["city"],
    },
  },
};
const add = [{ role: "user", content: "What is 12 + 30?" }];
const weather = [{ role: "user", content: "What's the weather in Paris?" }];

// A streamed chat folded into the shape of a non-streamed message.
async function streamChat(params, c = client) {
  const stream = await c.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  const msg = { content: null, reasoning_content: null, tool_calls: null };
  let finish = null, usage = null, role = null, chunks = 0, toolOrder = [];
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      const d = ch.delta;
      if (d.role) role = d.role;
      if (d.content) msg.content = (msg.content ?? "") + d.content;
      if (d.reasoning_content) msg.reasoning_content = (msg.reasoning_content ?? "") + d.reasoning_content;
      for (const tc of d.tool_calls ?? []) {
        msg.tool_calls ??= [];
        const t = (msg.tool_calls[tc.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
        if (tc.id) t.id = tc.id;
        if (tc.function?.name) { t.function.name += tc.function.name; toolOrder.push("name"); }
        if (tc.function?.arguments) { t.function.arguments += tc.function.arguments; toolOrder.push("arguments"); }
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { msg, finish, usage, role, chunks, toolOrder };
}

// The parts of a message the stream must reproduce byte for byte (call ids are random).
function parts(m) {
  return show({
    content: m.content || null,
    reasoning: m.reasoning_content || null,
    calls: (m.tool_calls ?? []).map((t) => [t.type, t.function.name, t.function.arguments]),
  });
}

async function test(name, fn) {
  try { await fn(); }
  catch (e) { failed++; console.log(`FAILED: ${name}: ${e.stack ?? e}`); }
}

await test("chat", async () => {
  const r = await client.chat.completions.create({ model, messages: add, temperature: 0 });
  const m = r.choices[0].message;
  check(r.object === "chat.completion" && r.model === model && r.choices.length === 1, "chat shape " + show(r));
  check(m.role === "assistant" && m.content.includes("42") && m.reasoning_content.length > 0, "chat message " + show(m));
  check(r.choices[0].finish_reason === "stop", "chat finish_reason " + r.choices[0].finish_reason);
  check(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, "usage " + show(r.usage));
});

await test("models", async () => {
  const list = await keyed.models.list();
  check(list.data.length === 1 && list.data[0].id === model, "models.list " + show(list.data));
  const one = await keyed.models.retrieve(model);
  check(one.id === model, "models.retrieve " + show(one));
});

// Streaming: role first, usage last, and the same bytes as the non-streamed reply.
await test("stream == non-stream", async () => {
  for (const [messages, tools] of [[add, undefined], [weather, [weatherTool]]]) {
    for (const seed of [1, 2, 3, 4]) {
      const p = { model, messages, tools, temperature: 1.0, seed };
      const r = await client.chat.completions.create(p);
      const s = await streamChat(p);
      check(parts(s.msg) === parts(r.choices[0].message),
        `seed ${seed}: stream ${parts(s.msg)} != ${parts(r.choices[0].message)}`);
      check(s.finish === r.choices[0].finish_reason, `seed ${seed}: finish ${s.finish} != ${r.choices[0].finish_reason}`);
      check(s.role === "assistant" && s.chunks > 3, `seed ${seed}: role ${s.role}, ${s.chunks} chunks`);
      check(s.usage && s.usage.completion_tokens === r.usage.completion_tokens &&
        s.usage.prompt_tokens === r.usage.prompt_tokens, `seed ${seed}: usage ${show(s.usage)} vs ${show(r.usage)}`);
    }
  }
});

// Seeds: the same seed gives the same text; different seeds differ somewhere.
await test("seeds", async () => {
  const gen = async (seed) => (await client.completions.create({
    model, prompt: "def fibonacci(n):", max_tokens: 24, temperature: 1.0, seed })).choices[0].text;
  const chat = async (seed) => parts((await client.chat.completions.create({
    model, messages: [{ role: "user", content: "Hello!" }], temperature: 1.2, max_tokens: 32, seed })).choices[0].message);
  const a = await gen(7), b = await gen(7);
  check(a === b, `same seed, different completions: ${show(a)} vs ${show(b)}`);
  const others = new Set([a]);
  for (const seed of [8, 9, 10, 11]) others.add(await gen(seed));
  check(others.size >= 3, "five seeds gave only " + others.size + " different completions");
  const c1 = await chat(5), c2 = await chat(5);
  check(c1 === c2, `same seed, different chat replies: ${c1} vs ${c2}`);
  // Two requests at once in two slots give what they give alone.
  const [x, y] = await Promise.all([gen(7), chat(5)]);
  check(x === a && y === c1, `concurrent requests differ from sequential ones: ${show(x)} ${y}`);
});

await test("tool calls", async () => {
  const p = { model, messages: weather, tools: [weatherTool] };
  const r = await client.chat.completions.create({ ...p, seed: 1 });
  const m = r.choices[0].message;
  check(r.choices[0].finish_reason === "tool_calls", "tool finish_reason " + show(r.choices[0]));
  check(m.tool_calls?.length === 1 && m.tool_calls[0].type === "function" && /^call_/.test(m.tool_calls[0].id) &&
    m.tool_calls[0].function.name === "get_weather", "tool_calls " + show(m));
  const args = JSON.parse(m.tool_calls?.[0]?.function.arguments ?? "null");
  check(args && typeof args === "object" && args.city === "Paris", "arguments " + show(args));
  check(!m.content, "content beside the call: " + show(m.content));

  // Streamed: the name comes first, then the arguments; the same call.
  const s = await streamChat({ ...p, seed: 1 });
  check(s.finish === "tool_calls" && parts(s.msg) === parts(m), `streamed call ${parts(s.msg)} != ${parts(m)}`);
  check(s.toolOrder[0] === "name" && s.toolOrder.includes("arguments") &&
    s.toolOrder.filter((x) => x === "name").length === 1, "stream order " + show(s.toolOrder));
  check(/^call_/.test(s.msg.tool_calls?.[0]?.id ?? ""), "streamed call id " + show(s.msg.tool_calls));

  // tool_choice "none": no call.
  for (const seed of [1, 2, 3]) {
    const n = await client.chat.completions.create({ ...p, tool_choice: "none", seed, max_tokens: 64 });
    check(!n.choices[0].message.tool_calls && n.choices[0].finish_reason !== "tool_calls",
      "tool_choice none called a tool: " + show(n.choices[0]));
  }

  // The second turn: the assistant's call (tool_calls only) and the tool's result.
  const call = m.tool_calls[0];
  const turn2 = await client.chat.completions.create({
    model, tools: [weatherTool], temperature: 0,
    messages: [...weather, { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content: '{"temperature": 21, "unit": "celsius", "condition": "rainy"}' }],
  });
  const m2 = turn2.choices[0].message;
  check(turn2.choices[0].finish_reason === "stop" && !m2.tool_calls && m2.content.length > 0,
    "second turn " + show(turn2.choices[0]));
  check(/21|rain/i.test(m2.content), "second turn does not use the tool result: " + show(m2.content));
});

// Stop strings, matched across tokens: the reply ends right before them.
await test("stop", async () => {
  const full = (await client.chat.completions.create({ model, messages: add, temperature: 0 })).choices[0].message.content;
  for (const stop of [" = ", "= 4", ["nothing like this", "0 ="]]) {
    const first = Math.min(...[stop].flat().map((x) => (full.indexOf(x) < 0 ? Infinity : full.indexOf(x))));
    check(Number.isFinite(first), `stop ${show(stop)} is not in the answer ${show(full)}`);
    const p = { model, messages: add, temperature: 0, stop };
    const r = await client.chat.completions.create(p);
    check(r.choices[0].message.content === full.slice(0, first) && r.choices[0].finish_reason === "stop",
      `stop ${show(stop)}: ${show(r.choices[0])}, want ${show(full.slice(0, first))}`);
    const s = await streamChat(p);
    check(s.msg.content === full.slice(0, first) && s.finish === "stop", `streamed stop ${show(stop)}: ${show(s.msg)}`);
  }
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({ model, messages: add, temperature: 0.8, seed, stop: "30" });
    const c = r.choices[0].message.content ?? "";
    check(!c.includes("30") && r.choices[0].finish_reason === "stop", `seed ${seed} stop "30": ${show(r.choices[0])}`);
  }
});

await test("max_tokens", async () => {
  for (const max of [1, 5]) {
    const r = await client.chat.completions.create({ model, messages: add, max_tokens: max, seed: 1 });
    check(r.choices[0].finish_reason === "length" && r.usage.completion_tokens === max, `max_tokens ${max}: ${show(r)}`);
    const s = await streamChat({ model, messages: add, max_completion_tokens: max, seed: 1 });
    check(s.finish === "length" && s.usage.completion_tokens === max, `streamed max_tokens ${max}: ${show(s)}`);
  }
});

await test("logprobs", async () => {
  const r = await client.chat.completions.create({ model, messages: add, temperature: 0, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs?.content;
  check(Array.isArray(lp) && lp.length > 0 && lp.length <= r.usage.completion_tokens, "logprobs " + show(r.choices[0].logprobs));
  for (const t of lp ?? []) {
    const ok = typeof t.token === "string" && t.logprob <= 0 && Array.isArray(t.bytes) &&
      t.top_logprobs.length === 3 && t.top_logprobs.every((x, i) => i === 0 || x.logprob <= t.top_logprobs[i - 1].logprob) &&
      t.top_logprobs[0].token === t.token && Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-6 &&
      Buffer.from(t.bytes).toString("latin1") === Buffer.from(t.token, "utf8").toString("latin1");
    check(ok, "greedy logprob entry " + show(t));
    if (!ok) break;
  }
  const text = (lp ?? []).map((t) => t.token).join("");
  check(text.includes(r.choices[0].message.content), `logprob tokens ${show(text)} lack the content`);
  const s = await client.chat.completions.create({ model, messages: add, temperature: 0, logprobs: true, stream: true });
  let n = 0;
  for await (const c of s) n += c.choices[0]?.logprobs?.content?.length ?? 0;
  check(n === lp.length, `streamed logprobs: ${n} entries, not ${lp.length}`);
});

await test("enable_thinking false", async () => {
  for (const extra of [{ enable_thinking: false }, { chat_template_kwargs: { enable_thinking: false } }]) {
    for (const stream of [false, true]) {
      const p = { model, messages: add, temperature: 0, ...extra };
      const m = stream ? (await streamChat(p)).msg : (await client.chat.completions.create(p)).choices[0].message;
      check(!m.reasoning_content && m.content.startsWith("12 + 30 ="), `${show(extra)} stream ${stream}: ${show(m)}`);
    }
  }
});

// json_object: a reply that ends (not cut by max_tokens) is one JSON object.
await test("json_object", async () => {
  let done = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const r = await client.chat.completions.create({
      model, messages: add, enable_thinking: false, seed, max_tokens: 200, response_format: { type: "json_object" } });
    const c = r.choices[0].message.content;
    check(/^\s*\{/.test(c), `seed ${seed}: json_object reply does not start an object: ${show(c)}`);
    if (r.choices[0].finish_reason !== "stop") continue;
    done++;
    let v = null;
    try { v = JSON.parse(c); } catch (e) { }
    check(v !== null && typeof v === "object" && !Array.isArray(v), `seed ${seed}: not a JSON object: ${show(c)}`);
  }
  check(done >= 4, `only ${done} of 6 json_object replies ended within 200 tokens`);
});

await test("errors", async () => {
  const cases = [
    [client, { model, messages: [] }, OpenAI.BadRequestError, 400, "messages"],
    [client, { model, messages: add, temperature: "hot" }, OpenAI.BadRequestError, 400, "temperature"],
    [client, { model: "gpt-4o", messages: add }, OpenAI.NotFoundError, 404, "model"],
    [keyed, { model, messages: [{ role: "user", content: "word ".repeat(600) }] }, OpenAI.BadRequestError, 400, "messages"],
  ];
  for (const [c, p, cls, status, param] of cases) {
    try {
      await c.chat.completions.create(p);
      check(false, "no error for " + show(p).slice(0, 100));
    } catch (e) {
      check(e instanceof cls && e.status === status && e.param === param && e.type === "invalid_request_error" &&
        e.error?.message?.length > 0, `error for ${show(p).slice(0, 100)}: ${e.constructor.name} ${e.status} ${show(e.error)}`);
    }
  }
  const bad = new OpenAI({ baseURL: process.env.QWENC_URL_C + "/v1", apiKey: "wrong", maxRetries: 0 });
  try {
    await bad.chat.completions.create({ model, messages: add });
    check(false, "a wrong key was accepted");
  } catch (e) {
    check(e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === "invalid_api_key", "wrong key: " + e);
  }
  try {
    await keyed.chat.completions.create({ model, messages: [{ role: "user", content: "word ".repeat(600) }] });
  } catch (e) {
    check(e.code === "context_length_exceeded", "context error code " + show(e.error));
  }
  const ok = await keyed.chat.completions.create({ model, messages: add, temperature: 0 });
  check(ok.choices[0].message.content.includes("42"), "keyed chat " + show(ok.choices[0]));
});

await test("completions", async () => {
  const p = { model, prompt: "def fibonacci(n):", max_tokens: 16, temperature: 0.7, seed: 3 };
  const r = await client.completions.create(p);
  check(r.object === "text_completion" && r.choices[0].text.length > 0 && r.usage.completion_tokens === 16 &&
    r.choices[0].finish_reason === "length", "completion " + show(r));
  const stream = await client.completions.create({ ...p, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    text += c.choices[0]?.text ?? "";
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  check(text === r.choices[0].text && finish === "length" && usage?.completion_tokens === 16,
    `streamed completion ${show(text)} ${finish} ${show(usage)} != ${show(r.choices[0].text)}`);
  const ids = await (await fetch(process.env.QWENC_URL_A + "/tokenize", {
    method: "POST", body: JSON.stringify({ content: "def fibonacci(n):" }) })).json();
  const byIds = await client.completions.create({ ...p, prompt: ids.tokens });
  check(byIds.choices[0].text === r.choices[0].text, `token-id prompt: ${show(byIds.choices[0].text)}`);
  const stopped = await client.completions.create({ ...p, stop: ["\n"] });
  check(stopped.choices[0].finish_reason === "stop" && !stopped.choices[0].text.includes("\n") &&
    r.choices[0].text.startsWith(stopped.choices[0].text), "completion stop " + show(stopped.choices[0]));
});

console.log(`openai client: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
