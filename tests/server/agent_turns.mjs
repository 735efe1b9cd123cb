// The second turn of an agent conversation with tools reuses the first
// turn's cached prefix (system prompt, tools, question): it evaluates at most
// 20% of the prompt tokens the first turn did, reports the reuse in
// usage.prompt_tokens_details.cached_tokens, and answers exactly as a cold
// server does.
//
// usage: node agent_turns.mjs WARM_URL COLD_URL
const [warm, cold] = [process.argv[2], process.argv[3]];
let failed = 0;
const check = (cond, msg) => { if (cond) console.log(`ok ${msg}`); else { failed++; console.log(`FAILED: ${msg}`); } };

// An agent's toolbox: the weather tool the demo model calls, and others whose
// descriptions make the shared prefix long, as real agents' are.
const tool = (name, description, properties, required) =>
    ({ type: 'function', function: { name, description, parameters: { type: 'object', properties, required } } });
const tools = [
    tool('get_weather', 'Get the current weather in a city', {
        city: { type: 'string', description: 'City name' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    }, ['city']),
];
for (const [name, what] of [['read_file', 'Read a file of the workspace and return its text'],
    ['write_file', 'Write text to a file of the workspace, replacing it'],
    ['run_tests', 'Run the project test suite and return the failures'],
    ['search_code', 'Search the repository for a regular expression'],
    ['list_dir', 'List the entries of a directory of the workspace']]) {
    tools.push(tool(name, `${what}.`, {
        path: { type: 'string', description: 'Path relative to the workspace root' },
        limit: { type: 'integer', description: 'At most this many lines or entries' },
    }, ['path']));
}
const system = { role: 'system', content: 'You are an agent with tools. Call a tool when it helps.' };
const user = { role: 'user', content: "What's the weather in Paris?" };

async function chat(url, messages) {
    const r = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages, tools, temperature: 0, max_tokens: 96 }),
    });
    const j = await r.json();
    if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(j)}`);
    return j;
}

const t1 = await chat(warm, [system, user]);
const call = t1.choices[0].message.tool_calls?.[0];
check(call && call.function.name === 'get_weather', `first turn calls get_weather: ${JSON.stringify(t1.choices[0].message)}`);
const turn2 = [system, user, { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call?.id, content: '{"temperature": 21, "unit": "celsius", "condition": "rainy"}' }];
const t2 = await chat(warm, turn2);
const c2 = await chat(cold, turn2);
const [p1, p2] = [t1.timings, t2.timings];
check(t2.usage.prompt_tokens_details.cached_tokens === p2.cache_n && p2.cache_n > 0,
    `cached_tokens ${t2.usage.prompt_tokens_details.cached_tokens} reported`);
check(p2.prompt_n <= 0.2 * p1.prompt_n,
    `second turn evaluates ${p2.prompt_n} prompt tokens (${p2.cache_n} cached), first turn ${p1.prompt_n}`);
check(c2.timings.cache_n === 0, `the cold server computed all ${c2.timings.prompt_n} tokens`);
check(JSON.stringify(t2.choices[0].message) === JSON.stringify(c2.choices[0].message),
    `second turn equals a cold run: ${JSON.stringify(t2.choices[0].message.content)}`);
console.log(`# prefill: first turn ${p1.prompt_n} tokens in ${p1.prompt_ms.toFixed(1)} ms; ` +
    `second turn ${p2.prompt_n} new + ${p2.cache_n} cached in ${p2.prompt_ms.toFixed(1)} ms ` +
    `(${(100 * p2.prompt_ms / p1.prompt_ms).toFixed(1)}%); cold second turn ${c2.timings.prompt_ms.toFixed(1)} ms`);
process.exit(failed ? 1 : 0);
