// qwenc serve under abuse, on loopback, every part bounded in count and time (run by tests/cli_serve_abuse.sh):
// slow clients, huge and deep bodies, invalid UTF-8 in every field, 10,000 requests with the server's memory
// watched, clients that leave at every stage, a full queue; every server must then exit 0 on SIGTERM (with no
// leak report in the sanitizer build). QWENC_BIN: the binary; QWENC_SANITIZED: stretch the time limits.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";

const bin = process.env.QWENC_BIN;
const sanitized = !!process.env.QWENC_SANITIZED;
const slow = sanitized ? 4 : 1;  // the sanitizer build runs several times slower
// ASan keeps freed memory in quarantine (256 MB) and adds shadow memory, so RSS bounds hold only in the plain
// build; in the sanitizer build LeakSanitizer's report at exit is the check.
const rssBound = (kb, bound) => sanitized || kb < bound;
let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.log("FAILED: " + what); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (x) => JSON.stringify(x)?.slice(0, 400);
const t0 = Date.now();
const phase = (name) => console.log(`abuse: ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

// ---- servers ------------------------------------------------------------------------------------------------------

// Starts `qwenc serve --port 0 ARGS` on the demo model; resolves when it listens.
function startServer(name, args) {
  const proc = spawn(bin, ["serve", "--port", "0", "-t", "2", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const srv = { name, proc, log: "", exited: null };
  proc.stderr.on("data", (d) => (srv.log += d));
  proc.on("exit", (code, sig) => (srv.exited = { code, sig }));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 60000;
    const poll = setInterval(() => {
      const m = srv.log.match(/listening on http:\/\/127\.0\.0\.1:(\d+) /);
      if (m) {
        clearInterval(poll);
        srv.port = Number(m[1]);
        resolve(srv);
      } else if (srv.exited || Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`server ${name} did not start: ${srv.log}`));
      }
    }, 50);
  });
}

// SIGTERM: the server exits 0 within a few seconds, with no sanitizer report.
async function stopServer(srv) {
  srv.proc.kill("SIGTERM");
  const end = Date.now() + 10000 * slow;
  while (!srv.exited && Date.now() < end) await sleep(50);
  if (!srv.exited) srv.proc.kill("SIGKILL");
  check(srv.exited && srv.exited.code === 0, `server ${srv.name}: exit ${show(srv.exited)} after SIGTERM: ${srv.log.slice(-1500)}`);
  check(!/Sanitizer|runtime error|LeakSanitizer/.test(srv.log), `server ${srv.name}: sanitizer report: ${srv.log.slice(-3000)}`);
  check(!/ 500 \d+ms| 500 prompt=/.test(srv.log), `server ${srv.name} answered 500`);
}

// VmRSS or VmHWM of the server, kB.
function memKB(srv, field = "VmRSS") {
  const m = fs.readFileSync(`/proc/${srv.proc.pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : NaN;
}

// ---- clients --------------------------------------------------------------------------------------------------------

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

// One HTTP request; resolves {status, body, ms} (status 0 and error when the connection failed).
function request(srv, method, path, body, { agent = false, headers = {}, timeout = 30000 * slow } = {}) {
  const start = Date.now();
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port: srv.port, method, path, agent, headers, timeout }, (res) => {
      const parts = [];
      res.on("data", (d) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString(), ms: Date.now() - start }));
      res.on("error", (e) => resolve({ status: 0, error: e.code || e.message, ms: Date.now() - start }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, error: e.code || e.message, ms: Date.now() - start }));
    if (body !== undefined) req.end(typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    else req.end();
  });
}

const json = (r) => { try { return JSON.parse(r.body); } catch { return null; } };

// OpenAI's error shape with the given status, type, param and code.
function isError(r, status, param, code = null) {
  const e = json(r)?.error;
  return r.status === status && e && Object.keys(json(r)).join() === "error" &&
    Object.keys(e).sort().join() === "code,message,param,type" && typeof e.message === "string" && e.message.length > 0 &&
    e.type === (status >= 500 ? "server_error" : "invalid_request_error") && e.param === param && e.code === code;
}

async function metric(srv, name) {
  const r = await request(srv, "GET", "/metrics");
  const line = r.body.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : NaN;
}

// Polls cond (async) every 50 ms for up to ms.
async function waitFor(cond, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return cond();
}

// A raw connection; resolves once connected. s.closedAt: ms after connecting when the server closed it.
function connect(srv, localAddress = "127.0.0.1") {
  return new Promise((resolve) => {
    const s = net.connect({ port: srv.port, host: "127.0.0.1", localAddress });
    s.got = "";
    s.on("data", (d) => (s.got += d));
    s.on("error", () => {});
    s.on("close", () => (s.closedAt = Date.now() - s.openedAt));
    s.on("connect", () => { s.openedAt = Date.now(); resolve(s); });
  });
}

const demo = [{ role: "user", content: "What is 12 + 30?" }];
const tiny = { messages: demo, max_tokens: 1, temperature: 0 };

// ---- slow clients -----------------------------------------------------------------------------------------------

// 200 connections send their headers a byte a second (and 5 more their body): a normal request meanwhile is
// answered at once, and --read-timeout cuts the slow ones off.
async function slowClients(a) {
  phase("slow clients");
  const head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: " + "p".repeat(64) + "\r\n";
  const socks = await Promise.all(Array.from({ length: 205 }, () => connect(a)));
  const body = JSON.stringify(tiny);
  socks.forEach((s, i) => {
    const text = i < 200 ? head : head + `Content-Length: ${body.length}\r\n\r\n`;
    let k = 0;
    if (i >= 200) s.write(text), (k = text.length);
    const data = i < 200 ? text : body;
    s.timer = setInterval(() => { if (!s.destroyed && (i < 200 ? k : k - text.length) < data.length) s.write(data[(i < 200 ? k : k - text.length)]), k++; }, 1000);
  });
  await sleep(1000);
  const models = await request(a, "GET", "/v1/models");
  const chat = await request(a, "POST", "/v1/chat/completions", tiny);
  console.log(`abuse: with 205 slow connections open, GET /v1/models took ${models.ms} ms, a chat ${chat.ms} ms`);
  check(models.status === 200 && models.ms < 1000 * slow, `a normal request while 205 are slow: ${models.status} in ${models.ms} ms`);
  check(chat.status === 200 && chat.ms < 2000 * slow, `a chat request while 205 are slow: ${chat.status} in ${chat.ms} ms`);
  await waitFor(() => socks.every((s) => s.closedAt !== undefined), 8000 * slow);
  socks.forEach((s) => clearInterval(s.timer));
  const times = socks.map((s) => s.closedAt ?? Infinity).sort((x, y) => x - y);
  console.log(`abuse: slow connections closed ${times[0]} to ${times.at(-1)} ms after they opened`);
  check(times[0] >= 2900 && times.at(-1) <= 3000 + 1500 * slow,
    `slow connections closed between ${times[0]} and ${times.at(-1)} ms (--read-timeout 3)`);
  check(socks.every((s) => s.got === ""), "a slow connection got a response");
  check(await metric(a, "qwenc_connections_timed_out_total") >= 205, "qwenc_connections_timed_out_total under 205");
  check(/closed \d+ connections? whose request did not arrive within --read-timeout 3 s/.test(a.log), "no log line for the cut connections");
  socks.forEach((s) => s.destroy());
}

// --max-connections-per-ip: one address over its share is refused at once. --max-connections: over the total
// (from other addresses: 127.0.0.2 and .3 are loopback too), a connection waits to be accepted until one closes.
async function connectionLimits(b) {
  phase("connection limits");
  const held = await Promise.all(Array.from({ length: 4 }, () => connect(b)));
  await sleep(200);
  let r = await request(b, "GET", "/health");
  check(r.status === 0 && r.ms < 1000 * slow, `a 5th connection from one address: ${show(r)}`);
  const other = await Promise.all(Array.from({ length: 4 }, () => connect(b, "127.0.0.2")));
  await sleep(200);
  let ninth = null;
  const pending = new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port: b.port, path: "/health", localAddress: "127.0.0.3", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve((ninth = { status: res.statusCode, at: Date.now() })));
    });
    req.on("error", (e) => resolve((ninth = { error: e.code, at: Date.now() })));
  });
  await sleep(1000);
  check(ninth === null, `a 9th connection (over --max-connections 8) was answered while 8 were open: ${show(ninth)}`);
  const released = Date.now();
  [...held, ...other].forEach((s) => s.destroy());
  await Promise.race([pending, sleep(3000 * slow)]);
  check(ninth?.status === 200 && ninth.at - released < 1000 * slow, `the 9th connection once the others closed: ${show(ninth)}`);
}

// ---- bodies -------------------------------------------------------------------------------------------------------

// Sends 100 MB (Content-Length, or chunked) and resolves with the status line and the ms from the last byte sent
// (or from the start, for an answer before the end) to the answer; samples the server's RSS meanwhile.
function bigBody(a, chunked, expect = false) {
  return new Promise(async (resolve) => {
    const s = await connect(a);
    const rss0 = memKB(a);
    let peak = rss0, answeredAt = null, lastSentAt = null;
    const sampler = setInterval(() => { peak = Math.max(peak, memKB(a)); }, 10);
    let finished = false;
    s.on("data", () => {
      if (answeredAt !== null) return;
      answeredAt = Date.now();
      setTimeout(() => finish(), 300);  /* the rest of the answer; the connection may stay open */
    });
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(sampler);
      s.destroy();
      const status = Number((s.got.match(/^HTTP\/1\.1 (\d+)/) || [])[1]);
      const body = s.got.slice(s.got.indexOf("\r\n\r\n") + 4);
      resolve({ status, body, wait: answeredAt === null ? Infinity : answeredAt - (lastSentAt ?? answeredAt), grewKB: peak - rss0 });
    };
    s.on("close", finish);
    setTimeout(finish, 20000 * slow);
    s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n` +
      (expect ? "Expect: 100-continue\r\n" : "") +
      (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${100 << 20}\r\n\r\n`));
    if (expect) return void (lastSentAt = Date.now());  /* the body waits for "100 Continue" */
    const block = Buffer.alloc(1 << 16, 0x61);
    const frame = chunked ? Buffer.concat([Buffer.from("10000\r\n"), block, Buffer.from("\r\n")]) : block;
    let sent = 0;
    const more = () => {
      while (sent < 100 << 20 && answeredAt === null && !s.destroyed) {
        sent += block.length;
        if (!s.write(frame)) return void s.once("drain", more);
      }
      if (chunked && !s.destroyed) s.write("0\r\n\r\n");
      lastSentAt = Date.now();
    };
    more();
  });
}

async function bodies(a) {
  phase("100 MB bodies");
  let r = await bigBody(a, false, true);
  check(r.status === 413 && r.wait < 500 * slow && !r.body.includes("100 Continue") &&
    isError({ status: 413, body: r.body }, 413, null, "request_too_large"),
    `100 MB announced with Expect: 100-continue: ${r.status} after ${r.wait} ms: ${r.body.slice(0, 200)}`);
  console.log(`abuse: 413 ${r.wait} ms after headers with Expect: 100-continue`);
  r = await bigBody(a, false);
  console.log(`abuse: 413 ${r.wait} ms after the last of 100 MB (Content-Length); RSS grew by at most ${r.grewKB} kB`);
  check(r.status === 413 && r.wait < 1000 * slow && isError({ status: 413, body: r.body }, 413, null, "request_too_large"),
    `100 MB with Content-Length: ${r.status} after ${r.wait} ms: ${r.body.slice(0, 200)}`);
  check(rssBound(r.grewKB, 48 * 1024), `100 MB with Content-Length: the server grew by ${r.grewKB} kB`);
  r = await bigBody(a, true);
  check(r.status === 413 && r.wait < 2000 * slow && isError({ status: 413, body: r.body }, 413, null, "request_too_large"),
    `100 MB chunked: ${r.status} ${r.wait} ms after the last byte: ${r.body.slice(0, 200)}`);
  check(rssBound(r.grewKB, 48 * 1024), `100 MB chunked: the server grew by ${r.grewKB} kB (--max-body is 16 MiB)`);
  console.log(`abuse: 413 ${r.wait} ms after the last of 100 MB (chunked); RSS grew by at most ${r.grewKB} kB`);

  phase("deep JSON");
  for (const [what, text] of [["arrays", "[".repeat(100000)], ["objects", '{"a":'.repeat(100000)],
    ["in a message", `{"messages": [{"role": "user", "content": ${"[".repeat(100000)}`],
    ["closed arrays", "[".repeat(100000) + "]".repeat(100000)]]) {
    const res = await request(a, "POST", "/v1/chat/completions", text);
    check(isError(res, 400, null) && res.ms < 2000 * slow, `JSON nested 100,000 deep (${what}): ${res.status} ${res.body.slice(0, 200)}`);
    if (what === "arrays") console.log(`abuse: JSON nested 100,000 deep: ${res.status} in ${res.ms} ms: ${res.body}`);
  }
  // Under jansson's limit, deep values reach the template, which has its own.
  let v = 1;
  for (let i = 0; i < 2000; i++) v = { a: v };
  r = await request(a, "POST", "/v1/chat/completions",
    { messages: demo, max_tokens: 1, tools: [{ type: "function", function: { name: "f", parameters: v } }] });
  check(r.status === 400 || r.status === 200, `a tool nested 2,000 deep: ${r.status} ${r.body.slice(0, 200)}`);
  console.log(`abuse: a tool nested 2,000 deep: ${r.status} ${r.body}`);
  check((await request(a, "GET", "/health")).status === 200, "the server is alive after the deep bodies");
}

// ---- invalid UTF-8 --------------------------------------------------------------------------------------------------

// A chat request with every string field OpenAI defines; the field `path` (or a key inside it) holds "@@BAD@@".
function chatWith(path, inKey) {
  const req = {
    model: "qwenc-demo", user: "u", service_tier: "auto", metadata: { tag: "t" }, reasoning_effort: "low",
    messages: [
      { role: "user", name: "ann", content: [{ type: "text", text: "What is 12 + 30?" }] },
      { role: "assistant", content: "", reasoning_content: "r",
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }] },
      { role: "tool", tool_call_id: "call_1", name: "get_weather", content: "sunny" },
    ],
    tools: [{ type: "function", function: { name: "get_weather", description: "Get the weather",
      parameters: { type: "object", properties: { city: { type: "string", description: "City", enum: ["Paris", "Rome"] } } } } }],
    tool_choice: { type: "function", function: { name: "get_weather" } },
    stop: ["x", "y"], response_format: { type: "text" }, chat_template_kwargs: { extra: "e" }, logit_bias: { 7: 1 },
    max_tokens: 1,
  };
  const keys = path.match(/[^.[\]]+/g);
  let o = req;
  for (const k of keys.slice(0, -1)) o = o[k];
  const last = keys.at(-1);
  if (inKey) o[last] = { "@@BAD@@": 1 };
  else o[last] = "@@BAD@@";
  return req;
}

async function invalidUtf8(a) {
  phase("invalid UTF-8");
  const fields = ["model", "user", "service_tier", "reasoning_effort", "metadata.tag", "messages[0].role", "messages[0].name",
    "messages[0].content", "messages[0].content[0].type", "messages[0].content[0].text", "messages[1].content",
    "messages[1].reasoning_content", "messages[1].tool_calls[0].id", "messages[1].tool_calls[0].type",
    "messages[1].tool_calls[0].function.name", "messages[1].tool_calls[0].function.arguments", "messages[2].tool_call_id",
    "messages[2].name", "messages[2].content", "tools[0].type", "tools[0].function.name", "tools[0].function.description",
    "tools[0].function.parameters.properties.city.description", "tools[0].function.parameters.properties.city.enum[1]",
    "tool_choice", "tool_choice.function.name", "stop", "stop[1]", "response_format.type", "chat_template_kwargs.extra"];
  const bad = { "a 0xff byte": Buffer.from([0xff]), "a cut 3-byte sequence": Buffer.from([0xe2, 0x82]),
    "an overlong '/'": Buffer.from([0xc0, 0xaf]), "a UTF-8 surrogate": Buffer.from([0xed, 0xa0, 0x80]),
    "a lone surrogate escape": Buffer.from("\\udc00"), "a NUL escape": Buffer.from("\\u0000") };
  let n = 0;
  for (const field of fields) {
    for (const [what, bytes] of Object.entries(bad)) {
      const [pre, post] = JSON.stringify(chatWith(field, false)).split("@@BAD@@");
      const r = await request(a, "POST", "/v1/chat/completions", Buffer.concat([Buffer.from(pre + "ab"), bytes, Buffer.from("cd" + post)]));
      const want = field.replace(/\[(\d+)\]$/, "[$1]");
      check(isError(r, 400, want) && json(r).error.message.includes(`'${want}'`), `${what} in ${field}: ${r.status} ${r.body.slice(0, 300)}`);
      n++;
    }
  }
  // in a key: the object holding it is named
  for (const field of ["logit_bias", "metadata", "chat_template_kwargs", "tools[0].function.parameters.properties"]) {
    const [pre, post] = JSON.stringify(chatWith(field, true)).split("@@BAD@@");
    const r = await request(a, "POST", "/v1/chat/completions", Buffer.concat([Buffer.from(pre), Buffer.from([0xff]), Buffer.from(post)]));
    check(isError(r, 400, field) && json(r).error.message.includes(`a key of '${field}'`), `0xff in a key of ${field}: ${r.status} ${r.body.slice(0, 300)}`);
    n++;
  }
  // the other routes
  for (const [path, pre, post, param] of [["/v1/completions", '{"max_tokens": 1, "prompt": "a', '"}', "prompt"],
    ["/v1/completions", '{"max_tokens": 1, "prompt": ["a', '"]}', "prompt[0]"], ["/tokenize", '{"content": "a', '"}', "content"],
    ["/tokenize", '{"messages": [{"role": "user", "content": "a', '"}]}', "messages[0].content"]]) {
    const r = await request(a, "POST", path, Buffer.concat([Buffer.from(pre), Buffer.from([0xff]), Buffer.from(post)]));
    check(isError(r, 400, param), `0xff in ${path} ${param}: ${r.status} ${r.body.slice(0, 300)}`);
    n++;
  }
  // valid UTF-8 that is unusual is answered
  for (const text of ["\u{10FFFF}\uFFFF\uFFFE", "\u{1F600}", "\uFFFD", "\u2028\u2029", "\u0001\u001f"]) {
    const r = await request(a, "POST", "/v1/chat/completions", { messages: [{ role: "user", content: text }], max_tokens: 1 });
    check(r.status === 200, `valid but unusual text ${show(text)}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  console.log(`abuse: ${n} requests with invalid UTF-8, each a 400 naming its field`);
}

// ---- many requests ---------------------------------------------------------------------------------------------------

// 10,000 requests one after another (cheap routes, and every 33rd a one-token chat; every 10th on a fresh
// connection): the server's memory after them is within a small bound of what it was after the first 500.
async function manyRequests(a) {
  phase("10,000 requests");
  const start = Date.now();
  let bad = 0, rss500 = 0;
  const kinds = [["GET", "/v1/models"], ["GET", "/health"], ["POST", "/tokenize", { content: "hello world" }], ["GET", "/metrics"]];
  for (let i = 0; i < 10000; i++) {
    const [method, path, body] = i % 33 === 0 ? ["POST", "/v1/chat/completions", tiny] : kinds[i % kinds.length];
    const r = await request(a, method, path, body, { agent: i % 10 === 0 ? false : keepAlive });
    if (r.status !== 200 && bad++ < 3) console.log(`request ${i} ${method} ${path}: ${show(r)}`);
    if (i === 499) rss500 = memKB(a);
  }
  const rss = memKB(a);
  console.log(`abuse: server RSS ${rss500} kB after 500 requests, ${rss} kB after 10,000 (${Date.now() - start} ms)`);
  check(bad === 0, `${bad} of 10,000 requests failed`);
  check(rssBound(rss - rss500, 4096), `the server grew by ${rss - rss500} kB between request 500 and 10,000`);
}

// ---- clients that leave --------------------------------------------------------------------------------------------

// A streamed generation that holds the one slot: resolves once its first chunk came; .stop() hangs up.
function holdSlot(c, maxTokens = 1900) {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port: c.port, method: "POST", path: "/v1/completions", agent: false }, (res) => {
      res.once("data", () => resolve({ stop: () => req.destroy() }));
      res.on("error", () => {});
    });
    req.on("error", () => {});
    req.end(JSON.stringify({ prompt: "def fibonacci(n):", max_tokens: maxTokens, temperature: 0, stream: true }));
  });
}

const idle = async (c) => (await metric(c, "qwenc_slots_busy")) === 0 && (await metric(c, "qwenc_queue_depth")) === 0;

async function disconnects(c) {
  phase("clients that leave");
  const body = JSON.stringify(tiny);
  let s = await connect(c);
  s.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le");
  await sleep(100);
  s.destroy();
  s = await connect(c);
  s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n` + body.slice(0, 20));
  await sleep(100);
  s.destroy();
  let r = await request(c, "POST", "/v1/chat/completions", tiny);
  check(r.status === 200, `after clients left mid-headers and mid-body: ${r.status} ${r.body.slice(0, 200)}`);

  // during prefill: 1,000 prompt tokens in chunks of 4 take seconds
  const ids = Array.from({ length: 1000 }, (_, i) => 100 + (i % 500));
  const req = http.request({ host: "127.0.0.1", port: c.port, method: "POST", path: "/v1/completions", agent: false });
  req.on("error", () => {});
  req.end(JSON.stringify({ prompt: ids, max_tokens: 50 }));
  await waitFor(async () => (await metric(c, "qwenc_slots_busy")) === 1, 3000 * slow);
  await sleep(200);
  req.destroy();
  const t = Date.now();
  check(await waitFor(() => idle(c), 2000 * slow), "the slot is still busy after a client left during its prefill");
  check(await waitFor(() => /POST \/v1\/completions 499 prompt=1000 cached=0 completion=0 /.test(c.log), 1000 * slow),
    `no 499 with completion=0 for the client that left during prefill: ${c.log.slice(-600)}`);
  console.log(`abuse: slot free ${Date.now() - t} ms after a client left during prefill`);

  // while queued, then mid-stream
  const hold = await holdSlot(c);
  const queued = http.request({ host: "127.0.0.1", port: c.port, method: "POST", path: "/v1/chat/completions", agent: false });
  queued.on("error", () => {});
  queued.end(JSON.stringify(tiny));
  check(await waitFor(async () => (await metric(c, "qwenc_queue_depth")) === 1, 3000 * slow), "the request was not queued");
  queued.destroy();
  check(await waitFor(async () => (await metric(c, "qwenc_queue_depth")) === 0, 1500 * slow),
    "a queued request whose client left still holds its place in the queue");
  check((await metric(c, "qwenc_slots_busy")) === 1, "the held slot stopped");
  hold.stop();
  check(await waitFor(() => idle(c), 2000 * slow), "the slot is still busy after the client left mid-stream");
  const cut = [...c.log.matchAll(/POST \/v1\/completions 499 prompt=\d+ cached=\d+ completion=(\d+) /g)].map((m) => Number(m[1]));
  check(cut.length >= 2 && cut.at(-1) > 0 && cut.at(-1) < 1900, `the stream cut mid-way: completion counts ${show(cut)}`);
  check(/POST \/v1\/chat\/completions 499 prompt=\d+ cached=\d+ completion=0 /.test(c.log), "no 499 for the client that left while queued");
  r = await request(c, "POST", "/v1/chat/completions", { messages: demo, temperature: 0 });
  check(r.status === 200 && json(r)?.choices[0].message.content.includes("42"), `the server answers after every disconnect: ${r.body.slice(0, 200)}`);
}

// --queue 4 and one slot: with the slot held and 4 waiting, 5 more get 503 at once; the 4 then all complete.
async function fullQueue(c) {
  phase("a full queue");
  const hold = await holdSlot(c);
  const waiting = Array.from({ length: 4 }, () => request(c, "POST", "/v1/chat/completions", { ...tiny, max_tokens: 3 }));
  check(await waitFor(async () => (await metric(c, "qwenc_queue_depth")) === 4, 3000 * slow), "4 requests are not queued");
  const over = await Promise.all(Array.from({ length: 5 }, () => request(c, "POST", "/v1/chat/completions", tiny)));
  console.log(`abuse: over the queue: ${over[0].status} in ${over[0].ms} ms: ${over[0].body}`);
  for (const r of over)
    check(isError(r, 503, null, "queue_full") && r.ms < 1000 * slow, `over the queue: ${r.status} in ${r.ms} ms ${r.body.slice(0, 200)}`);
  hold.stop();
  const done = await Promise.all(waiting);
  check(done.every((r) => r.status === 200 && json(r)?.usage.completion_tokens >= 1), `the queued requests: ${show(done.map((r) => r.status))}`);
  check(await waitFor(() => idle(c), 2000 * slow), "slots or queue still busy at the end");
}

// ---- main -----------------------------------------------------------------------------------------------------------

const a = await startServer("a", ["--read-timeout", "3", "--parallel", "1"]);
const b = await startServer("b", ["--max-connections", "8", "--max-connections-per-ip", "4"]);
const c = await startServer("c", ["--parallel", "1", "--queue", "4", "--prefill-chunk", "4"]);
try {
  await slowClients(a);
  await connectionLimits(b);
  await bodies(a);
  await invalidUtf8(a);
  await manyRequests(a);
  await disconnects(c);
  await fullQueue(c);
} catch (e) {
  check(false, "exception: " + (e.stack || e));
}
keepAlive.destroy();
phase("SIGTERM");
for (const srv of [a, b, c]) await stopServer(srv);
console.log(`abuse: ${passed} passed, ${failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
