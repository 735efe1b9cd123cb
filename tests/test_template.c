/* Unit tests for the chat-template interpreter: one small template per
 * construct with the output jinja2 3.1 gives in transformers' environment
 * (trim_blocks, lstrip_blocks, loopcontrols, transformers' tojson), and the
 * errors for what is unsupported or wrong (message text and line). */
#include "check.h"
#include "qwenc.h"
#include "tokenizer/template.h"

#include <string.h>
#include <time.h>

typedef struct {
    const char *name, *tmpl, *context, *expected;
} render_case;

static const render_case render_cases[] = {
    {"text only",
     "hello\n",
     "{}",
     "hello"},
    {"variable",
     "{{ name }}!",
     "{\"name\": \"Qwen\"}",
     "Qwen!"},
    {"crlf normalized, one trailing newline dropped",
     "a\r\nb\rc\n\n",
     "{}",
     "a\nb\nc\n"},
    {"trim_blocks drops newline after block tag",
     "{% if true %}\nyes\n{% endif %}\nafter",
     "{}",
     "yes\nafter"},
    {"lstrip_blocks strips indentation before block tag",
     "  {% if true %}\n    x\n  {% endif %}\ny",
     "{}",
     "    x\ny"},
    {"lstrip_blocks not before {{",
     "  {{ 'v' }}\n",
     "{}",
     "  v"},
    {"plus disables lstrip and trim",
     "  {%+ if true +%}\nx{% endif %}",
     "{}",
     "  \nx"},
    {"minus strips all whitespace",
     "a \n {%- if true -%} \n b \n {%- endif -%} \n c",
     "{}",
     "abc"},
    {"variable minus",
     "x   {{- 'y' -}}   \n z",
     "{}",
     "xyz"},
    {"comments",
     "a {# note #} b\n{# line #}\nc {#- tight -#} d",
     "{}",
     "a  b\ncd"},
    {"comment lstrip and trim",
     "x\n    {# c #}\ny",
     "{}",
     "x\ny"},
    {"raw block",
     "{% raw %}{{ not parsed }}{% endraw %}",
     "{}",
     "{{ not parsed }}"},
    {"if elif else",
     "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %};{% endfor %}",
     "{}",
     "one;two;many;"},
    {"for loop variables",
     "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ x }} {% endfor %}",
     "{}",
     "1032TrueFalse3a 2121FalseFalse3b 3210FalseTrue3c "},
    {"loop previtem nextitem cycle",
     "{% for x in [1, 2, 3] %}{{ loop.previtem is defined }}{{ loop.nextitem|default('-') }}{{ loop.cycle('a', 'b') }} {% endfor %}",
     "{}",
     "False2a True3b True-a "},
    {"for else",
     "{% for x in [] %}x{% else %}empty{% endfor %}",
     "{}",
     "empty"},
    {"for with filter condition",
     "{% for x in range(6) if x is odd %}{{ loop.index }}:{{ x }} {% endfor %}",
     "{}",
     "1:1 2:3 3:5 "},
    {"for over dict items with unpacking",
     "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
     "{\"d\": {\"b\": 1, \"a\": [2]}}",
     "b=1;a=[2];ba"},
    {"for scope: sets do not leak",
     "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}",
     "{}",
     "15151"},
    {"break and continue",
     "{% for i in range(10) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
     "{}",
     "023"},
    {"set and tuple unpacking",
     "{% set a, b = [1, 2] %}{% set c = 3, 4 %}{{ a }}{{ b }}{{ c }}",
     "{}",
     "12(3, 4)"},
    {"set block",
     "{% set x %}v={{ 1 + 1 }}{% endset %}[{{ x }}]",
     "{}",
     "[v=2]"},
    {"namespace",
     "{% set ns = namespace(n=0, seen=false) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{% set ns.seen = true %}{{ ns.n }} {{ ns.seen }}",
     "{}",
     "6 True"},
    {"macro with defaults and globals",
     "{% macro m(a, b='B') %}[{{ a }}{{ b }}{{ g }}]{% endmacro %}{% set g = '!' %}{{ m(1) }}{{ m(2, 'x') }}{{ m(b=3, a=4) }}",
     "{}",
     "[1B!][2x!][43!]"},
    {"call block with caller args",
     "{% macro box(x) %}<{{ caller(x * 2) }}>{% endmacro %}{% call(v) box(21) %}v={{ v }}{% endcall %}",
     "{}",
     "<v=42>"},
    {"filter block",
     "{% filter upper %}shout {{ 'it' }}{% endfilter %}",
     "{}",
     "SHOUT IT"},
    {"generation block",
     "{% generation %}kept{% endgeneration %}",
     "{}",
     "kept"},
    {"tojson nested",
     "{{ x|tojson }}",
     "{\"x\": {\"b\": [1, 2.5, true, null], \"a\": {\"c\": \"d\"}, \"e\": []}}",
     "{\"b\": [1, 2.5, true, null], \"a\": {\"c\": \"d\"}, \"e\": []}"},
    {"tojson unicode and escapes",
     "{{ x|tojson }}",
     "{\"x\": \"\\u00e9\\u4e2d\\ud83d\\ude00 \\\"q\\\" back\\\\slash \\n\\t\\r\\b\\f \\u0001 \\u007f /\"}",
     "\"\303\251\344\270\255\360\237\230\200 \\\"q\\\" back\\\\slash \\n\\t\\r\\b\\f \\u0001 \177 /\""},
    {"tojson floats and ints",
     "{{ x|tojson }}",
     "{\"x\": [1, 1.0, 0.1, 1e-05, 0.0001, 1e16, 1e15, 123.456, -0.0, 2.5e-10, 1e100, 100000000000000000000.0, 3]}",
     "[1, 1.0, 0.1, 1e-05, 0.0001, 1e+16, 1000000000000000.0, 123.456, -0.0, 2.5e-10, 1e+100, 1e+20, 3]"},
    {"tojson indent",
     "{{ x|tojson(indent=2) }}",
     "{\"x\": {\"a\": [1, {\"b\": null}], \"c\": {}, \"d\": []}}",
     "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}"},
    {"tojson ensure_ascii and sort_keys",
     "{{ x|tojson(ensure_ascii=true, sort_keys=true) }}",
     "{\"x\": {\"b\": \"\\u00e9\\ud83d\\ude00\", \"a\": 1}}",
     "{\"a\": 1, \"b\": \"\\u00e9\\ud83d\\ude00\"}"},
    {"tojson of template values",
     "{{ {'k': (1, 'two'), 3: none}|tojson }}",
     "{}",
     "{\"k\": [1, \"two\"], \"3\": null}"},
    {"printing values like Python",
     "{{ [1, 'a', none, true, 1.5, {'k': \"it's\"}] }} {{ (1,) }} {{ none }} {{ 2.0 }} {{ 1e-7 }}",
     "{}",
     "[1, 'a', None, True, 1.5, {'k': \"it's\"}] (1,) None 2.0 1e-07"},
    {"string repr escapes",
     "{{ ['a\\nb', \"q'\", 'd\"q', 'both\\'\"'] }}",
     "{}",
     "['a\\nb', \"q'\", 'd\"q', 'both\\'\"']"},
    {"string literal escapes",
     "{{ 'a\\tb' }}|{{ \"\\u00e9\\x41\\101\" }}|{{ 'x' 'y' }}|{{ '\\d' }}",
     "{}",
     "a\tb|\303\251AA|xy|\\d"},
    {"arithmetic",
     "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ 10 - 2 - 3 }} {{ 1 + true }} {{ 0.1 + 0.2 }} {{ 'ab' * 2 }} {{ [0] * 3 }} {{ -2 ** 2 }}",
     "{}",
     "3 -4 2 3.5 2.0 1024 14 20 5 2 0.30000000000000004 abab [0, 0, 0] 4"},
    {"concat and list add",
     "{{ 'a' ~ 1 ~ none ~ true ~ x }} {{ [1] + [2] }} {{ 'a' + 'b' }}",
     "{}",
     "a1NoneTrue [1, 2] ab"},
    {"comparisons and logic",
     "{{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 in [1] }} {{ 'b' not in 'abc' }} {{ 'k' in {'k': 1} }} {{ not 0 }} {{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }}",
     "{}",
     "True True True True False True False True True x y []"},
    {"ternary",
     "{{ 'yes' if true else 'no' }}|{{ 'no-else' if false }}|{{ 'a' if 0 else 'b' if 1 else 'c' }}",
     "{}",
     "yes||b"},
    {"tests",
     "{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is integer }} {{ 's' is string }} {{ {} is mapping }} {{ [] is sequence }} {{ 's' is iterable }} {{ 5 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ false is false }} {{ true is true }} {{ 1 is true }} {{ 2 is eq 2 }} {{ 'A' is upper }} {{ 1 is not none }}",
     "{}",
     "False True True True True True False True True True True True True True True True False True True True"},
    {"undefined semantics",
     "[{{ missing }}]{{ missing|length }}{{ missing is defined }}{% for x in missing %}x{% endfor %}{{ missing|default('d') }}{% if missing %}t{% else %}f{% endif %}{{ d.nokey }}{{ d.nokey is defined }}{{ d['nokey']|default('k') }}",
     "{\"d\": {}}",
     "[]0FalsedfFalsek"},
    {"none vs false",
     "{{ x is none }}{{ x is false }}{{ y is false }}{{ x == none }}",
     "{\"x\": null, \"y\": false}",
     "TrueFalseTrueTrue"},
    {"slicing",
     "{{ x[::-1] }} {{ x[1:] }} {{ x[:-1] }} {{ x[-2:] }} {{ x[::2] }} {{ x[5:1:-1] }} {{ x[10:] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-1] }}",
     "{\"x\": [1, 2, 3, 4, 5, 6], \"s\": \"h\\u00e9llo\"}",
     "[6, 5, 4, 3, 2, 1] [2, 3, 4, 5, 6] [1, 2, 3, 4, 5] [5, 6] [1, 3, 5] [6, 5, 4, 3] [] \303\251l oll\303\251h o"},
    {"subscripts and attributes",
     "{{ m[0].content }} {{ m[-1]['role'] }} {{ m.0.role }} {{ d['items'] }} {{ d.items is callable }}",
     "{\"m\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"bot\", \"content\": \"yo\"}], \"d\": {\"items\": 1}}",
     "hi bot user 1 True"},
    {"string filters",
     "{{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello wORLD'|title }}|{{ 'hello WORLD'|capitalize }}|{{ 'MiXed'|upper }}{{ 'MiXed'|lower }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 42|string ~ '!' }}|{{ 'abc'|length }}|{{ 'h\303\251'|length }}",
     "{}",
     "pad|hi|Hello World|Hello world|MIXEDmixed|a+b+c|bba|42!|3|2"},
    {"list filters",
     "{{ [3, 1, 2]|first }}{{ [3, 1, 2]|last }}{{ [3, 1, 2]|sort }}{{ [3, 1, 2]|sort(reverse=true) }}{{ [1, 2]|reverse|list }}{{ 'ab'|list }}{{ {'a': 1}|items|list }}{{ [1, 2, 3]|join(', ') }}{{ [1, 2]|join }}{{ [1, 2]|length }}{{ []|first is defined }}",
     "{}",
     "32[1, 2, 3][3, 2, 1][2, 1]['a', 'b'][('a', 1)]1, 2, 3122False"},
    {"numeric filters",
     "{{ '42'|int + 1 }} {{ ' 7 '|int }} {{ '4.7'|int }} {{ 'zz'|int }} {{ 'zz'|int(9) }} {{ 3.9|int }} {{ '2.5'|float }} {{ -3|abs }} {{ -2.5|abs }}",
     "{}",
     "43 7 4 0 9 3 2.5 3 2.5"},
    {"default filter",
     "{{ x|default('d') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ none|default('n') }} {{ y|d('dd') }}",
     "{\"y\": null}",
     "d  e None None"},
    {"map select reject",
     "{{ u|map(attribute='name')|join(',') }} {{ u|selectattr('admin')|map(attribute='name')|list }} {{ u|rejectattr('admin')|map(attribute='name')|list }} {{ u|selectattr('name', 'equalto', 'bob')|list|length }} {{ ['a', 'b']|map('upper')|join }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ u|map(attribute='x', default='-')|join }}",
     "{\"u\": [{\"name\": \"amy\", \"admin\": true}, {\"name\": \"bob\", \"admin\": false}]}",
     "amy,bob ['amy'] ['bob'] 1 AB [1, 3] [2, 4] --"},
    {"indent filter",
     "{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(3, blank=true) }}|{{ 'x\\ny'|indent('> ') }}",
     "{}",
     "a\n  b\n\n  c|  a\n  b|a\n   \n   b|x\n> y"},
    {"safe and items of undefined",
     "{{ 'x'|safe }}{{ missing|items|list }}",
     "{}",
     "x[]"},
    {"string methods",
     "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  x y  '.split(None, 1) }} {{ '\\n\\nhi\\n'.strip('\\n') }} {{ '  l'.lstrip() }}|{{ 'r  '.rstrip() }}|{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'ab'.replace('', '-') }} {{ 'hello world'.title() }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'x{}y{}'.format(1, 'z') }} {{ '{0}-{n}'.format(5, n=6) }} {{ '-'.join(['a', 'b']) }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ 'a\\nb'.splitlines() }}",
     "{}",
     "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c'] ['a,b', 'c'] ['x', 'y  '] hi l|r|True True -a-b- Hello World AB ab x1yz 5-6 a-b 2 2 ['a', 'b']"},
    {"dict methods",
     "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}",
     "{\"d\": {\"a\": 1, \"b\": 2}}",
     "1 None 5 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)]"},
    {"dict and list literals",
     "{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }} {{ [] }} {{ {} }} {{ [1, [2, [3]]] }} {{ dict(a=1) }}",
     "{}",
     "{'a': 1, 'b': [1, 2], 'c': {'d': None}} [] {} [1, [2, [3]]] {'a': 1}"},
    {"range",
     "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }}",
     "{}",
     "[0, 1, 2] [1, 3, 5] [3, 2, 1]"},
    {"thinking split like Qwen3",
     "{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
     "{\"c\": \"<think>\\nreason\\n</think>\\n\\nanswer\"}",
     "answer|reason"},
    {"is string vs mapping for tool arguments",
     "{% for a in args %}{% if a is string %}{{ a }}{% else %}{{ a|tojson }}{% endif %};{% endfor %}",
     "{\"args\": [\"{\\\"x\\\": 1}\", {\"x\": 1}]}",
     "{\"x\": 1};{\"x\": 1};"},
};

typedef struct {
    const char *name, *tmpl, *context, *message;
} error_case;

static const error_case error_cases[] = {
    {"unknown filter names filter and line", "line1\n{{ x | wordwrap }}", "{}", "template line 2: unknown filter 'wordwrap'"},
    {"unknown tag", "a\n\n{% do x.append(1) %}", "{}", "template line 3: unknown tag 'do'"},
    {"unknown test", "{% if x is prime %}{% endif %}", "{}", "template line 1: unknown test 'prime'"},
    {"unclosed tag", "a\n{{ x ", "{}", "template line 2: unclosed tag"},
    {"missing endif", "{% if true %}\nx", "{}", "template line 2: unexpected end of template, expected 'elif'"},
    {"unexpected end tag", "{% for x in y %}{% endif %}", "{}", "template line 1: unexpected tag 'endif'"},
    {"syntax error in expression", "\n\n{{ 1 + }}", "{}", "template line 3: unexpected 'end of print statement'"},
    {"unterminated string", "{{ 'abc }}", "{}", "template line 1: unterminated string literal"},
    {"attribute of undefined", "{{ nothing.here }}", "{}", "template line 1: 'nothing' is undefined"},
    {"attribute of missing key used", "{{ d.a.b }}", "{\"d\": {}}", "'dict object' has no attribute 'a'"},
    {"raise_exception carries the message", "{{ raise_exception('Conversation roles must alternate') }}", "{}", "template line 1: Conversation roles must alternate"},
    {"type error names types", "{{ 'a' + 1 }}", "{}", "unsupported operand type(s) for +: 'str' and 'int'"},
    {"mutating a list is refused", "{% set l = [] %}{{ l.append(1) }}", "{}", "would modify data"},
    {"recursive for unsupported", "{% for x in y recursive %}{% endfor %}", "{}", "unsupported construct: recursive for loops"},
    {"printf formatting unsupported", "{{ '%s' % 1 }}", "{}", "unsupported construct: printf-style"},
    {"runaway macro recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "{}", "macro calls nested too deeply"},
    {"deep nesting", "{{ ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))) }}", "{}", "nested too deeply"},
    {"division by zero", "{{ 1 // 0 }}", "{}", "division by zero"},
    {"break outside loop", "{% break %}", "{}", "'break' outside of a loop"},
    {"tojson of undefined", "{{ nope|tojson }}", "{}", "'nope' is undefined"},
};

/* Renders tmpl with a JSON context; returns the status, *out malloc'd. */
static int render(const char *tmpl, const char *context, char **out, char *err, size_t errlen) {
    json_error_t je;
    json_t *ctx = json_loads(context, 0, &je);
    if (!ctx) {
        snprintf(err, errlen, "bad test context: %s", je.text);
        *out = NULL;
        return -100;
    }
    int rc = qw_template_render(tmpl, ctx, out, err, errlen);
    json_decref(ctx);
    return rc;
}

static void test_render_cases(void) {
    for (size_t i = 0; i < sizeof render_cases / sizeof render_cases[0]; i++) {
        const render_case *c = &render_cases[i];
        char *out, err[512] = "";
        int rc = render(c->tmpl, c->context, &out, err, sizeof err);
        CHECK(rc == 0, "%s: failed: %s", c->name, err);
        if (rc == 0) {
            CHECK(strcmp(out, c->expected) == 0, "%s:\n  got      [%s]\n  expected [%s]", c->name, out, c->expected);
            free(out);
        }
    }
}

static void test_error_cases(void) {
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const error_case *c = &error_cases[i];
        char *out = NULL, err[512] = "";
        int rc = render(c->tmpl, c->context, &out, err, sizeof err);
        CHECK(rc == QWENC_EINVAL, "%s: expected an error, got rc %d and [%s]", c->name, rc, out ? out : "");
        CHECK(out == NULL, "%s: output on error", c->name);
        CHECK(strstr(err, c->message) != NULL, "%s:\n  message  [%s]\n  expected [%s]", c->name, err, c->message);
        free(out);
    }
}

/* strftime_now: today's date, so compare with our own clock's year. */
static void test_strftime_now(void) {
    char *out, err[256];
    int rc = qw_template_render("{{ strftime_now('%Y') }}", NULL, &out, err, sizeof err);
    CHECK(rc == 0, "strftime_now: %s", err);
    if (rc) return;
    time_t now = time(NULL);
    char year[16];
    strftime(year, sizeof year, "%Y", localtime(&now));
    CHECK(strcmp(out, year) == 0, "strftime_now('%%Y') gave [%s], expected [%s]", out, year);
    free(out);
}

/* Inputs that must fail cleanly, never crash: invalid UTF-8, a non-object
 * context, a NULL template, huge repetition, a self-containing namespace. */
static void test_hostile_inputs(void) {
    char *out = NULL, err[256];
    CHECK(qw_template_render("\xff{{ 1 }}", NULL, &out, err, sizeof err) == QWENC_EINVAL && !out, "invalid UTF-8");
    json_t *arr = json_array();
    CHECK(qw_template_render("x", arr, &out, err, sizeof err) == QWENC_EINVAL && !out, "array context");
    json_decref(arr);
    CHECK(qw_template_render(NULL, NULL, &out, err, sizeof err) == QWENC_EINVAL && !out, "NULL template");
    CHECK(render("{{ 'x' * 100000000000 }}", "{}", &out, err, sizeof err) == QWENC_EINVAL && !out,
          "huge repetition: %s", err);
    CHECK(render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", "{}", &out, err, sizeof err) == QWENC_EINVAL,
          "self-containing namespace must not recurse forever");
    CHECK(strstr(err, "nested too deeply") != NULL, "self-containing namespace message: %s", err);
    CHECK(render("{% for i in range(9999999) %}{% for j in range(9999999) %}{% endfor %}{% endfor %}", "{}", &out, err,
                 sizeof err) == QWENC_EINVAL,
          "runaway loops must stop");
    CHECK(strstr(err, "runs too long") || strstr(err, "MiB of memory"), "runaway loop message: %s", err);
    /* Smaller limits, as the fuzz harness renders under: the same clean errors, sooner. */
    qw_template_limits lim;
    qw_template_limits_default(&lim);
    CHECK(lim.max_steps == 50000000 && lim.max_bytes == (size_t)512 << 20, "default limits");
    lim = (qw_template_limits){.max_steps = 100, .max_bytes = 1 << 20};
    CHECK(qw_template_render_limits("{% for i in range(30) %}{{ i }}{% endfor %}", NULL, &lim, &out, err, sizeof err) == 0,
          "within the limits: %s", err);
    free(out);
    CHECK(qw_template_render_limits("{% for i in range(1000) %}{{ i }}{% endfor %}", NULL, &lim, &out, err, sizeof err) ==
                  QWENC_EINVAL && !out && strstr(err, "runs too long (more than 100 steps)"),
          "steps limit: %s", err);
    CHECK(qw_template_render_limits("{{ 'ab' * 600000 }}", NULL, &lim, &out, err, sizeof err) == QWENC_EINVAL &&
              strstr(err, "repetition result too large"), "repetition past the byte limit: %s", err);
    CHECK(qw_template_render_limits("{% set x = 'ab' * 300000 %}{{ x ~ x ~ x }}", NULL, &lim, &out, err, sizeof err) ==
                  QWENC_EINVAL && strstr(err, "1 MiB"), "byte limit: %s", err);
    const char *truncated[] = {"{{", "{%", "{#", "{% if", "{{ 'a", "{% for x in", "{% macro m(", "{{ x[1:", "{{ {'a':"};
    for (size_t i = 0; i < sizeof truncated / sizeof truncated[0]; i++) {
        CHECK(qw_template_render(truncated[i], NULL, &out, err, sizeof err) == QWENC_EINVAL && !out,
              "truncated template '%s' must be an error", truncated[i]);
    }
}

/* The chat entry point passes transformers' default variables. */
static void test_chat_variables(void) {
    const char *tmpl = "{{ bos_token }}|{{ eos_token }}|{{ tools is none }}|{{ documents is none }}|"
                       "{{ add_generation_prompt }}|{{ enable_thinking is defined }}|{{ messages|length }}|{{ extra }}";
    char *out, err[256];
    int rc = qw_chat_render_template(tmpl, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"extra\": 7}",
                                     "<s>", "</s>", &out, err, sizeof err);
    CHECK(rc == 0, "chat variables: %s", err);
    if (rc == 0) {
        CHECK(strcmp(out, "<s>|</s>|True|True|False|False|1|7") == 0, "chat variables: got [%s]", out);
        free(out);
    }
    rc = qw_chat_render_template(tmpl, "{\"messages\": [], \"add_generation_prompt\": true, \"enable_thinking\": false, "
                                       "\"tools\": [], \"bos_token\": \"B\"}",
                                 NULL, NULL, &out, err, sizeof err);
    CHECK(rc == 0, "chat variables 2: %s", err);
    if (rc == 0) {
        CHECK(strcmp(out, "B||False|True|True|True|0|") == 0, "chat variables 2: got [%s]", out);
        free(out);
    }
    CHECK(qw_chat_render_template(tmpl, "{\"messages\": 3}", NULL, NULL, &out, err, sizeof err) == QWENC_EINVAL,
          "messages must be an array");
    CHECK(qw_chat_render_template(tmpl, "{not json", NULL, NULL, &out, err, sizeof err) == QWENC_EINVAL,
          "bad JSON is an error");
    CHECK(qw_chat_render_template(NULL, "{\"messages\": []}", NULL, NULL, &out, err, sizeof err) == QWENC_EUNSUPPORTED,
          "no template is an error");
}

int main(void) {
    test_render_cases();
    test_error_cases();
    test_strftime_now();
    test_hostile_inputs();
    test_chat_variables();
    return check_summary();
}
