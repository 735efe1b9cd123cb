// Many clients at once against `qwenc serve --parallel N` (plain fetch, SSE
// parsed here): every request completes, and its output equals the same
// request run alone afterwards (same seed). Batching, the shared paged KV
// cache and prefix reuse must not change a single token.
//
// usage: node load_test.mjs URL CLIENTS REQUESTS_PER_CLIENT MAX_TOKENS [SEED_BASE [--no-compare]]
// Prints "ok N" lines for passed checks and "FAILED: ..." lines; exits 1 on a failure.
const [url, nClients, nEach, maxTokens] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];
const seedBase = +(process.argv[6] ?? 1000), compare = process.argv[7] !== '--no-compare';
let failed = 0;
const fail = (msg) => { failed++; console.log(`FAILED: ${msg}`); };

const topics = ['a stack', 'a queue', 'binary search', 'a linked list', 'fizzbuzz', 'a prime test',
    'string reversal', 'a word counter'];

function request(client, k) {
    const i = client * nEach + k;
    return {
        messages: [
            { role: 'system', content: 'You are a careful coding assistant. Answer with code.' },
            { role: 'user', content: `Write a Python function for ${topics[i % topics.length]} (variant ${i}).` },
        ],
        temperature: 0.8, top_p: 0.95, seed: seedBase + i, max_tokens: maxTokens,
        chat_template_kwargs: { enable_thinking: false },
    };
}

// One streamed request: the text and the finish reason, from the SSE chunks.
async function streamed(body) {
    const r = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
    });
    if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
    const raw = await r.text();
    let text = '', finish = null, done = false;
    for (const line of raw.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') { done = true; continue; }
        const c = JSON.parse(data);
        const ch = c.choices[0];
        if (ch.delta && ch.delta.content) text += ch.delta.content;
        if (ch.finish_reason) finish = ch.finish_reason;
    }
    if (!done) throw new Error('stream ended without [DONE]');
    return { text, finish };
}

async function whole(body) {
    const r = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const j = await r.json();
    if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(j)}`);
    return { text: j.choices[0].message.content ?? '', finish: j.choices[0].finish_reason };
}

const t0 = Date.now();
const results = new Map();
await Promise.all(Array.from({ length: nClients }, async (_, client) => {
    for (let k = 0; k < nEach; k++) {
        try {
            results.set(client * nEach + k, await streamed(request(client, k)));
        } catch (e) {
            fail(`client ${client} request ${k}: ${e.message}`);
        }
    }
}));
const tConcurrent = (Date.now() - t0) / 1000;
if (results.size === nClients * nEach) console.log(`ok ${results.size} concurrent streamed requests completed`);
else fail(`${results.size} of ${nClients * nEach} concurrent requests completed`);

if (!compare) {
    console.log(`# ${nClients}x${nEach} concurrent: ${tConcurrent.toFixed(1)} s`);
    process.exit(failed ? 1 : 0);
}
// The same requests one at a time (not streamed: the same tokens either way).
const t1 = Date.now();
let same = 0, nonEmpty = 0;
for (const [i, got] of results) {
    const client = Math.floor(i / nEach), k = i % nEach;
    try {
        const alone = await whole(request(client, k));
        if (alone.text === got.text && alone.finish === got.finish) same++;
        else fail(`request ${i}: concurrent ${JSON.stringify(got)} != alone ${JSON.stringify(alone)}`);
        if (got.text.length > 0) nonEmpty++;
    } catch (e) {
        fail(`request ${i} alone: ${e.message}`);
    }
}
const tAlone = (Date.now() - t1) / 1000;
if (same === results.size && same > 0) console.log(`ok all ${same} outputs equal the requests run alone`);
if (nonEmpty < results.size) fail(`${results.size - nonEmpty} empty answers`);
console.log(`# ${nClients}x${nEach} concurrent: ${tConcurrent.toFixed(1)} s; one at a time: ${tAlone.toFixed(1)} s`);
process.exit(failed ? 1 : 0);
