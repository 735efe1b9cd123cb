/* server/json_schema + json_machine: the compiler accepts every supported
 * keyword and refuses the rest with the keyword and its JSON path; the
 * automaton takes and refuses hand-written texts as the schema says; the
 * mask over the real Qwen3 vocabulary equals trying every token, in schema
 * states (fast string path, forked anyOf, tool calls); and for random
 * schemas of the subset, (a) random walks through the automaton always
 * complete into documents that an independent validator written here
 * accepts, (b) valid documents generated here from the schema are
 * accepted. */
#include <jansson.h>
#include "qwenc.h"
#include "check.h"
#include "server/json_guard.h"
#include "server/json_machine.h"
#include "server/json_schema.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static int chance(int percent) { return (int)(rnd() % 100) < percent; }

static jm_state *st_a, *st_b, *st_c;  /* JM_STATE_MAX each */

/* ---- the compiler ------------------------------------------------------------------ */

static const struct {
    const char *schema;
    int rc;            /* 0, QWENC_EUNSUPPORTED or QWENC_EINVAL */
    const char *want;  /* in the error line */
} compile_cases[] = {
    /* every supported keyword */
    {"{\"type\": \"string\", \"minLength\": 1, \"maxLength\": 5, \"title\": \"t\", \"description\": \"d\"}", 0, ""},
    {"{\"type\": [\"string\", \"null\"]}", 0, ""},
    {"{\"type\": \"integer\", \"minimum\": -3, \"maximum\": 7, \"default\": 1, \"examples\": [1]}", 0, ""},
    {"{\"type\": \"number\", \"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1.5}", 0, ""},
    {"{\"type\": \"number\", \"minimum\": 0, \"exclusiveMinimum\": true}", 0, ""},
    {"{\"type\": \"object\", \"properties\": {\"a\": {}}, \"required\": [\"a\"], \"additionalProperties\": false}", 0, ""},
    {"{\"type\": \"object\", \"additionalProperties\": true}", 0, ""},
    {"{\"type\": \"object\", \"additionalProperties\": {}}", 0, ""},
    {"{\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"minItems\": 1, \"maxItems\": 3, \"uniqueItems\": false}", 0, ""},
    {"{\"enum\": [1, \"a\", null, [1], {\"k\": true}]}", 0, ""},
    {"{\"const\": 3.5}", 0, ""},
    {"{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}", 0, ""},
    {"{\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}, {\"type\": \"null\"}]}", 0, ""},
    {"{\"oneOf\": [{\"type\": \"object\", \"properties\": {\"kind\": {\"const\": \"a\"}}, \"required\": [\"kind\"]},"
     " {\"type\": \"object\", \"properties\": {\"kind\": {\"enum\": [\"b\", \"c\"]}, \"x\": {}}, \"required\": [\"kind\"]}]}", 0, ""},
    {"{\"allOf\": [{\"type\": \"string\"}], \"description\": \"d\"}", 0, ""},
    {"{\"$defs\": {\"a\": {\"type\": \"integer\"}}, \"$ref\": \"#/$defs/a\"}", 0, ""},
    {"{\"definitions\": {\"a b\": {\"type\": \"integer\"}}, \"properties\": {\"x\": {\"$ref\": \"#/definitions/a%20b\"}}}", 0, ""},
    {"{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"$id\": \"x\", \"$comment\": \"c\", \"deprecated\": true,"
     " \"readOnly\": false, \"writeOnly\": false}", 0, ""},
    {"{\"type\": \"object\", \"properties\": {\"next\": {\"$ref\": \"#\"}}}", 0, ""},
    {"{\"type\": \"string\", \"format\": \"date\"}", 0, ""},
    {"{\"type\": \"string\", \"format\": \"time\"}", 0, ""},
    {"{\"type\": \"string\", \"format\": \"date-time\", \"maxLength\": 40}", 0, ""},
    {"{\"type\": \"string\", \"format\": \"uuid\"}", 0, ""},
    {"{\"type\": \"string\", \"format\": \"email\", \"maxLength\": 40, \"minLength\": 3}", 0, ""},
    {"true", 0, ""},
    {"{}", 0, ""},
    /* outside the subset: the keyword and where */
    {"{\"type\": \"string\", \"pattern\": \"^a\"}", QWENC_EUNSUPPORTED, "unsupported keyword 'pattern' at #"},
    {"{\"properties\": {\"a\": {\"type\": \"number\", \"multipleOf\": 2}}}", QWENC_EUNSUPPORTED,
     "unsupported keyword 'multipleOf' at #/properties/a"},
    {"{\"patternProperties\": {}}", QWENC_EUNSUPPORTED, "'patternProperties' at #"},
    {"{\"type\": \"object\", \"minProperties\": 1}", QWENC_EUNSUPPORTED, "'minProperties'"},
    {"{\"type\": \"object\", \"maxProperties\": 1}", QWENC_EUNSUPPORTED, "'maxProperties'"},
    {"{\"propertyNames\": {}}", QWENC_EUNSUPPORTED, "'propertyNames'"},
    {"{\"dependentRequired\": {}}", QWENC_EUNSUPPORTED, "'dependentRequired'"},
    {"{\"type\": \"array\", \"contains\": {}}", QWENC_EUNSUPPORTED, "'contains'"},
    {"{\"type\": \"array\", \"prefixItems\": [{}]}", QWENC_EUNSUPPORTED, "'prefixItems'"},
    {"{\"items\": {\"if\": {}, \"then\": {}}}", QWENC_EUNSUPPORTED, "'if' at #/items"},
    {"{\"not\": {}}", QWENC_EUNSUPPORTED, "'not' at #"},
    {"{\"unevaluatedProperties\": false}", QWENC_EUNSUPPORTED, "'unevaluatedProperties'"},
    {"{\"type\": \"string\", \"contentEncoding\": \"base64\"}", QWENC_EUNSUPPORTED, "'contentEncoding'"},
    {"{\"type\": \"string\", \"nullable\": true}", QWENC_EUNSUPPORTED, "'nullable'"},
    {"{\"$anchor\": \"a\"}", QWENC_EUNSUPPORTED, "'$anchor'"},
    {"{\"type\": \"string\", \"format\": \"uri\"}", QWENC_EUNSUPPORTED, "unsupported format 'uri' at #/format"},
    {"{\"type\": \"array\", \"uniqueItems\": true}", QWENC_EUNSUPPORTED, "'uniqueItems': true"},
    {"{\"type\": \"array\", \"items\": [{}, {}]}", QWENC_EUNSUPPORTED, "'items' array"},
    {"{\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}}", QWENC_EUNSUPPORTED,
     "'additionalProperties' schema"},
    {"{\"allOf\": [{}, {}]}", QWENC_EUNSUPPORTED, "'allOf'"},
    {"{\"type\": \"object\", \"anyOf\": [{}, {}]}", QWENC_EUNSUPPORTED, "'type' beside 'anyOf'"},
    {"{\"anyOf\": [{}], \"oneOf\": [{}]}", QWENC_EUNSUPPORTED, "'anyOf' beside 'oneOf'"},
    {"{\"$ref\": \"#/$defs/a\", \"type\": \"string\", \"$defs\": {\"a\": {}}}", QWENC_EUNSUPPORTED, "'type' beside '$ref'"},
    {"{\"enum\": [1, 2], \"minimum\": 2}", QWENC_EUNSUPPORTED, "'minimum' beside 'enum'"},
    {"{\"$ref\": \"other.json#/a\"}", QWENC_EUNSUPPORTED, "only local"},
    {"{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}", QWENC_EUNSUPPORTED, "'oneOf'"},
    {"{\"oneOf\": [{\"type\": \"object\"}, {\"type\": \"object\", \"properties\": {\"a\": {}}}]}", QWENC_EUNSUPPORTED, "may both match"},
    {"{\"type\": \"string\", \"format\": \"date\", \"minLength\": 11}", QWENC_EUNSUPPORTED, "'minLength' above 10"},
    {"{\"type\": \"number\", \"minimum\": 1e15}", QWENC_EUNSUPPORTED, "within"},
    /* malformed or unsatisfiable */
    {"5", QWENC_EINVAL, "a schema must be an object or a boolean at #"},
    {"{\"properties\": {\"a\": 3}}", QWENC_EINVAL, "at #/properties/a"},
    {"{\"type\": \"strin\"}", QWENC_EINVAL, "unknown type 'strin' at #/type"},
    {"{\"type\": [\"string\", \"string\"]}", QWENC_EINVAL, "distinct"},
    {"{\"type\": 7}", QWENC_EINVAL, "'type' must"},
    {"{\"type\": \"string\", \"minLength\": -1}", QWENC_EINVAL, "'minLength' must be a non-negative integer at #/minLength"},
    {"{\"type\": \"string\", \"minLength\": 5, \"maxLength\": 2}", QWENC_EINVAL, "'minLength' 5 is greater than 'maxLength' 2"},
    {"{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}", QWENC_EINVAL, "'minItems' 3"},
    {"{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 4}", QWENC_EINVAL, "no integer"},
    {"{\"type\": \"integer\", \"minimum\": 4.5, \"maximum\": 4.9}", QWENC_EINVAL, "no integer"},
    {"{\"type\": \"integer\", \"maximum\": \"9\"}", QWENC_EINVAL, "'maximum' must be a number"},
    {"{\"enum\": []}", QWENC_EINVAL, "'enum' must be a non-empty array at #/enum"},
    {"{\"enum\": 3}", QWENC_EINVAL, "'enum' must be"},
    {"{\"type\": \"string\", \"enum\": [1, 2]}", QWENC_EINVAL, "no value of 'enum'"},
    {"{\"const\": 1, \"enum\": [2]}", QWENC_EINVAL, "no value of 'enum'"},
    {"{\"properties\": 1}", QWENC_EINVAL, "'properties' must be an object at #/properties"},
    {"{\"required\": \"a\"}", QWENC_EINVAL, "'required' must be"},
    {"{\"required\": [\"a\", \"a\"]}", QWENC_EINVAL, "twice"},
    {"{\"properties\": {}, \"required\": [\"b\"], \"additionalProperties\": false}", QWENC_EINVAL,
     "'b' is required but 'additionalProperties' is false"},
    {"{\"$ref\": \"#/$defs/none\"}", QWENC_EINVAL, "points to nothing"},
    {"{\"$ref\": \"#/$defs/a\", \"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}}}", QWENC_EINVAL,
     "circular"},
    {"{\"$defs\": {\"n\": {\"type\": \"object\", \"properties\": {\"next\": {\"$ref\": \"#/$defs/n\"}}, \"required\": [\"next\"]}},"
     " \"$ref\": \"#/$defs/n\"}", QWENC_EINVAL, "no JSON document"},
    {"false", QWENC_EINVAL, "no JSON document"},
    {"{\"anyOf\": []}", QWENC_EINVAL, "non-empty"},
    {"{\"type\": \"string\", \"format\": \"uuid\", \"maxLength\": 35}", QWENC_EINVAL, "shorter than any 'uuid'"},
    {"{\"type\": \"string\", \"format\": 3}", QWENC_EINVAL, "'format' must be a string"},
    {"{\"type\": \"array\", \"uniqueItems\": 1}", QWENC_EINVAL, "'uniqueItems' must be a boolean"},
};

static void test_compiler(void) {
    char err[512];
    for (size_t i = 0; i < sizeof compile_cases / sizeof *compile_cases; i++) {
        json_schema *s = NULL;
        int rc = json_schema_compile_text(compile_cases[i].schema, &s, err, sizeof err);
        CHECK(rc == compile_cases[i].rc && strstr(err, compile_cases[i].want) && (rc == 0) == (s != NULL),
              "compile %s: rc %d (want %d), '%s' (want '%s')", compile_cases[i].schema, rc, compile_cases[i].rc, err,
              compile_cases[i].want);
        json_schema_free(s);
    }
    /* 64 levels of arrays that must hold something fit; 65 do not */
    for (int levels = 63; levels <= 65; levels++) {
        json_t *sch = json_pack("{s:s}", "type", "integer");
        for (int l = 0; l < levels; l++) sch = json_pack("{s:s,s:o,s:i}", "type", "array", "items", sch, "minItems", 1);
        json_schema *s = NULL;
        int rc = json_schema_compile(sch, &s, err, sizeof err);
        CHECK((rc == 0) == (levels < 65), "%d nested arrays: rc %d %s", levels, rc, err);
        json_schema_free(s);
        json_decref(sch);
    }
}

static void test_tool_compiler(void) {
    char err[512];
    json_t *tools = json_loads("[{\"type\": \"function\", \"function\": {\"name\": \"a\", \"parameters\": {\"type\": \"object\","
                               " \"properties\": {\"x\": {\"type\": \"string\", \"pattern\": \"y\"}}}}},"
                               " {\"type\": \"function\", \"function\": {\"name\": \"b\"}},"
                               " {\"type\": \"function\", \"function\": {\"name\": \"c\", \"parameters\": {\"type\": \"string\"}}}]",
                               0, NULL);
    json_schema *s = NULL;
    int rc = json_schema_compile_tools(tools, NULL, &s, err, sizeof err);
    CHECK(rc == QWENC_EUNSUPPORTED && strstr(err, "tools[0].function.parameters: unsupported keyword 'pattern' at "
                                                  "#/properties/x"), "tools: %d %s", rc, err);
    rc = json_schema_compile_tools(tools, "c", &s, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && strstr(err, "tools[2].function.parameters: the parameters must be an object schema"),
          "tools c: %d %s", rc, err);
    rc = json_schema_compile_tools(tools, "b", &s, err, sizeof err);
    CHECK(rc == 0, "tool b: %s", err);
    json_schema_free(s);
    json_decref(tools);
    tools = json_array();
    for (int i = 0; i < JS_MAX_ALTERNATIVES + 1; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        json_array_append_new(tools, json_pack("{s:s,s:{s:s}}", "type", "function", "function", "name", name));
    }
    rc = json_schema_compile_tools(tools, NULL, &s, err, sizeof err);
    CHECK(rc == QWENC_EUNSUPPORTED && strstr(err, "at most 64 tools"), "65 tools: %d %s", rc, err);
    rc = json_schema_compile_tools(tools, "f64", &s, err, sizeof err);
    CHECK(rc == 0, "one of 65 tools by name: %s", err);
    json_schema_free(s);
    json_decref(tools);
}

/* ---- the automaton on hand-written texts ------------------------------------------ */

enum { VALID, PREFIX, REJECT };  /* a whole valid document; a valid prefix only; refused */

static int verdict(const json_schema *s, const char *text, size_t n) {
    jm_start(s, st_c);
    const jm_state *end = jm_feed(s, st_c, st_a, st_b, (const unsigned char *)text, n);
    return !end ? REJECT : jm_complete(s, end) ? VALID : PREFIX;
}

static void expect(const json_schema *s, const char *name, const char *text, int want) {
    int got = verdict(s, text, strlen(text));
    static const char *const words[] = {"valid", "a prefix", "rejected"};
    CHECK(got == want, "%s: '%s' is %s, want %s", name, text, words[got], words[want]);
}

static json_schema *compiled(const char *text) {
    char err[512];
    json_schema *s = NULL;
    CHECK(json_schema_compile_text(text, &s, err, sizeof err) == 0, "compile %s: %s", text, err);
    return s;
}

typedef struct {
    const char *text;
    int want;
} text_case;

static void expect_all(const char *schema, const text_case *cases, size_t n) {
    json_schema *s = compiled(schema);
    if (!s) return;
    for (size_t i = 0; i < n; i++) expect(s, schema, cases[i].text, cases[i].want);
    json_schema_free(s);
}
#define EXPECT_ALL(schema, ...)                                                 \
    do {                                                                        \
        static const text_case c_[] = {__VA_ARGS__};                            \
        expect_all(schema, c_, sizeof c_ / sizeof *c_);                         \
    } while (0)

static void test_hand_made(void) {
    EXPECT_ALL("{\"type\": \"string\", \"maxLength\": 3}", {"\"abc\"", VALID}, {"\"abcd", REJECT},
               {"\"a\\u00e9c\"", VALID}, {"\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", VALID},
               {"\"\\ud83d\\ude00xy\"", VALID}, {"\"\\ud83d\\ude00xyz", REJECT}, {"\"ab", PREFIX}, {"\"\"", VALID},
               {"  \"a\"  ", VALID}, {"'a'", REJECT}, {"\"a\nb\"", REJECT}, {"\"\\x\"", REJECT});
    EXPECT_ALL("{\"type\": \"string\", \"minLength\": 2}", {"\"a\"", REJECT}, {"\"ab\"", VALID}, {"\"\\n\\t\"", VALID});
    EXPECT_ALL("{\"type\": \"integer\", \"minimum\": -5, \"maximum\": 12}", {"12", VALID}, {"13", REJECT}, {"-5", VALID},
               {"-6", REJECT}, {"0", VALID}, {"05", REJECT}, {"1", VALID}, {"1.0", REJECT}, {"1e1", REJECT},
               {"-", PREFIX}, {"120", REJECT}, {"-0", VALID}, {"12 ", VALID});
    EXPECT_ALL("{\"type\": \"integer\", \"exclusiveMinimum\": 0, \"exclusiveMaximum\": 100}", {"0", REJECT},
               {"1", VALID}, {"99", VALID}, {"100", REJECT}, {"-", REJECT});
    EXPECT_ALL("{\"type\": \"integer\", \"minimum\": 0.5, \"maximum\": 2.5}", {"0", REJECT}, {"1", VALID},
               {"2", VALID}, {"3", REJECT});
    EXPECT_ALL("{\"type\": \"integer\", \"minimum\": 100}", {"99", PREFIX}, {"100", VALID}, {"9", PREFIX},
               {"99 ", REJECT}, {"999999999999999999", VALID}, {"9999999999999999999", REJECT});
    EXPECT_ALL("{\"type\": \"number\", \"minimum\": 0, \"maximum\": 1}", {"0.5", VALID}, {"1", VALID},
               {"1.5", REJECT}, {"0.123456", VALID}, {"0.1234567", REJECT}, {"1.000001", REJECT},
               {"1.000000", VALID}, {"-0.0", VALID}, {"-0.1", REJECT}, {"0.", PREFIX}, {"0.5e1", REJECT});
    EXPECT_ALL("{\"type\": \"number\", \"exclusiveMinimum\": -0.25, \"maximum\": 0.1}", {"-0.25", REJECT},
               {"-0.249999", VALID}, {"0.1", VALID}, {"0.100001", REJECT}, {"0.0999", VALID});
    EXPECT_ALL("{\"type\": \"number\"}", {"1e5", VALID}, {"-1.5E-3", VALID}, {"1e99", VALID}, {"1e100", REJECT}, {"01", REJECT}, {"1.", PREFIX},
               {".5", REJECT}, {"1e", PREFIX}, {"-", PREFIX}, {"+1", REJECT});
    EXPECT_ALL("{\"type\": \"integer\"}", {"123", VALID}, {"1.5", REJECT}, {"1e3", REJECT}, {"-0", VALID});
    EXPECT_ALL("{\"enum\": [\"a\", 1, 12, null, {\"x\": [1]}, 2.5, \"a\\\"b\"]}", {"\"a\"", VALID}, {"1", VALID},
               {"12", VALID}, {"123", REJECT}, {"1 ", VALID}, {"null", VALID}, {"{\"x\":[1]}", VALID},
               {"{\"x\": [1]}", REJECT}, {"\"b\"", REJECT}, {"2.5", VALID}, {"2.50", REJECT}, {"\"a\\\"b\"", VALID},
               {"\"a", PREFIX});
    EXPECT_ALL("{\"type\": \"string\", \"const\": \"hi\"}", {"\"hi\"", VALID}, {"\"ho\"", REJECT});
    EXPECT_ALL("{\"type\": \"boolean\"}", {"true", VALID}, {"false", VALID}, {"nul", REJECT}, {"tru", PREFIX});
    EXPECT_ALL("{\"type\": \"null\"}", {"null", VALID}, {"0", REJECT});
    EXPECT_ALL("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"string\"}, "
               "\"ab\": {\"type\": \"null\"}}, \"required\": [\"a\"]}",
               {"{\"a\":1}", VALID}, {"{\"b\":\"x\"}", REJECT}, {"{\"a\":1,\"b\":\"x\"}", VALID},
               {"{\"b\":\"x\",\"a\":1}", REJECT}, {"{}", REJECT}, {"{\"a\":1,\"c\":2}", REJECT},
               {"{ \"a\" : 1 , \"b\" : \"\" }", VALID}, {"{\"a\":1,\"ab\":null}", VALID},
               {"{\"a\":1,\"b\":\"\",\"ab\":null}", VALID}, {"{\"a\":1,\"ab\":null,\"b\":\"\"}", REJECT},
               {"{\"a\":1,\"a\":2}", REJECT}, {"{\"a\":1,", PREFIX}, {"{\"a\":1,\"ab\":null,", REJECT},
               {"{\"a\":1}}", REJECT});
    EXPECT_ALL("{\"type\": \"object\", \"additionalProperties\": false}", {"{}", VALID}, {"{\"a\":1}", REJECT});
    EXPECT_ALL("{\"type\": \"object\"}", {"{\"any\": [1, {\"x\": null}]}", VALID}, {"[]", REJECT}, {"{\"a\":1,\"a\":2}", VALID});
    EXPECT_ALL("{\"type\": \"object\", \"required\": [\"k\"]}", {"{\"k\": [true]}", VALID}, {"{}", REJECT});
    EXPECT_ALL("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"minItems\": 1, \"maxItems\": 2}",
               {"[]", REJECT}, {"[1]", VALID}, {"[1,2]", VALID}, {"[1,2,3]", REJECT}, {"[ 1 , 2 ]", VALID},
               {"[1,]", REJECT}, {"[\"a\"]", REJECT});
    EXPECT_ALL("{\"type\": \"array\", \"items\": false}", {"[]", VALID}, {"[1]", REJECT});
    EXPECT_ALL("{\"anyOf\": [{\"type\": \"string\", \"maxLength\": 2}, {\"type\": \"integer\"}, "
               "{\"type\": \"string\", \"format\": \"date\"}]}",
               {"\"ab\"", VALID}, {"\"abc\"", REJECT}, {"5", VALID}, {"\"2024-01-02\"", VALID}, {"\"20\"", VALID},
               {"\"202", PREFIX}, {"true", REJECT});
    EXPECT_ALL("{\"type\": \"array\", \"items\": {\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}, "
               "\"maxItems\": 40}",
               {"[1,2.5,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]", VALID});
    EXPECT_ALL("{\"type\": [\"string\", \"null\"]}", {"null", VALID}, {"\"x\"", VALID}, {"1", REJECT});
    EXPECT_ALL("{\"$defs\": {\"t\": {\"type\": \"object\", \"properties\": {\"v\": {\"type\": \"integer\"}, "
               "\"kids\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/t\"}, \"maxItems\": 2}}, "
               "\"required\": [\"v\"]}}, \"$ref\": \"#/$defs/t\"}",
               {"{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[]}]}", VALID}, {"{\"v\":1,\"kids\":[{}]}", REJECT},
               {"{\"v\":1,\"kids\":[{\"v\":1},{\"v\":1},{\"v\":1}]}", REJECT});
    EXPECT_ALL("{\"type\": \"string\", \"format\": \"date\"}", {"\"2024-02-29\"", VALID}, {"\"2023-02-29\"", REJECT},
               {"\"2100-02-29\"", REJECT}, {"\"2000-02-29\"", VALID}, {"\"2024-13-01\"", REJECT},
               {"\"2024-04-31\"", REJECT}, {"\"2024-04-30\"", VALID}, {"\"2024-00-10\"", REJECT},
               {"\"2024-01-00\"", REJECT}, {"\"2024-1-01\"", REJECT}, {"\"2024-01-01", PREFIX});
    EXPECT_ALL("{\"type\": \"string\", \"format\": \"time\"}", {"\"23:59:59Z\"", VALID}, {"\"24:00:00Z\"", REJECT},
               {"\"12:00:00\"", REJECT}, {"\"12:00:00.5+05:30\"", VALID}, {"\"12:60:00Z\"", REJECT},
               {"\"12:00:00.1234567890Z\"", REJECT}, {"\"12:00:00-23:59\"", VALID}, {"\"12:00:00+24:00\"", REJECT});
    EXPECT_ALL("{\"type\": \"string\", \"format\": \"date-time\"}", {"\"2024-01-01T00:00:00Z\"", VALID},
               {"\"2024-01-01 00:00:00Z\"", REJECT}, {"\"2024-02-30T00:00:00Z\"", REJECT});
    EXPECT_ALL("{\"type\": \"string\", \"format\": \"uuid\"}", {"\"123e4567-e89b-12d3-A456-426614174000\"", VALID},
               {"\"123e4567e89b-12d3-a456-426614174000\"", REJECT}, {"\"123e4567-e89b-12d3-a456-42661417400\"", REJECT},
               {"\"123e4567-e89b-12d3-a456-42661417400g\"", REJECT});
    EXPECT_ALL("{\"type\": \"string\", \"format\": \"email\"}", {"\"a@b.c\"", VALID}, {"\"a@b\"", REJECT},
               {"\"a..b@c.d\"", REJECT}, {"\".a@b.c\"", REJECT}, {"\"a@-b.c\"", REJECT}, {"\"a@b-.c\"", REJECT},
               {"\"first.last+tag@mail.example.org\"", VALID}, {"\"a@b.c.\"", REJECT}, {"\"a b@c.d\"", REJECT});
    EXPECT_ALL("{\"type\": \"string\", \"format\": \"email\", \"maxLength\": 6}", {"\"ab@c.d\"", VALID},
               {"\"abc@d", REJECT}, {"\"ab@cd", REJECT}, {"\"ab@c.", PREFIX});
    /* whitespace: bounded runs */
    EXPECT_ALL("{\"type\": \"integer\"}", {"                                1", VALID},
               {"                                 1", REJECT}, {"1                ", VALID},
               {"1                 ", REJECT});
    EXPECT_ALL("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}",
               {"{                                \"a\":1}", VALID}, {"{                                 \"a\"", REJECT});
}

static void test_tool_texts(void) {
    char err[512];
    json_t *tools = json_loads("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {"
                               "\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"unit\": "
                               "{\"enum\": [\"c\", \"f\"]}}, \"required\": [\"city\"]}}},"
                               " {\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}]", 0, NULL);
    json_schema *any = NULL, *named = NULL;
    CHECK(json_schema_compile_tools(tools, NULL, &any, err, sizeof err) == 0, "%s", err);
    CHECK(json_schema_compile_tools(tools, "get_time", &named, err, sizeof err) == 0, "%s", err);
    if (any && named) {
        expect(any, "tools", "\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n", VALID);
        expect(any, "tools", "\n{\"name\": \"get_time\", \"arguments\": {}}\n", VALID);
        expect(any, "tools", "{\"name\": \"get_time\", \"arguments\": {\"x\": 1}}", REJECT);
        expect(any, "tools", "{\"name\": \"get_weather\", \"arguments\": {}}", REJECT);
        expect(any, "tools", "{\"name\": \"nope\"", REJECT);
        expect(any, "tools", "{\"arguments\": {}, \"name\": \"get_time\"}", REJECT);
        expect(any, "tools", "{\"name\": \"get_", PREFIX);
        expect(named, "named tool", "{\"name\": \"get_weather\"", REJECT);
        expect(named, "named tool", "{\"name\": \"get_time\", \"arguments\": {}}", VALID);
    }
    json_schema_free(any);
    json_schema_free(named);
    json_decref(tools);
}

/* ---- an independent validator (the subset's semantics, written apart from the automaton) ---- */

static const json_t *v_root;

static const json_t *v_resolve(const char *ref) {
    if (!strcmp(ref, "#")) return v_root;
    char name[128];
    if (sscanf(ref, "#/$defs/%127s", name) == 1) return json_object_get(json_object_get(v_root, "$defs"), name);
    if (sscanf(ref, "#/definitions/%127s", name) == 1)
        return json_object_get(json_object_get(v_root, "definitions"), name);
    return NULL;
}

static size_t code_points(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int all_digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int days_in(int y, int m) {
    if (m == 2) return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28;
    return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

static int v_date(const char *s, size_t n) {
    if (n != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in(y, m);
}

static int v_hhmm(const char *s, int max_h) {
    return all_digits(s, 2) && s[2] == ':' && all_digits(s + 3, 2) && atoi(s) <= max_h && atoi(s + 3) <= 59;
}

static int v_time(const char *s, size_t n) {
    if (n < 9 || !v_hhmm(s, 23) || s[5] != ':' || !all_digits(s + 6, 2) || atoi(s + 6) > 59) return 0;
    size_t i = 8;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == start) return 0;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) return 1;
    return i + 6 == n && (s[i] == '+' || s[i] == '-') && v_hhmm(s + i + 1, 23);
}

static int v_uuid(const char *s, size_t n) {
    if (n != 36) return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]) || !s[i]) return 0;
    }
    return 1;
}

static int v_email(const char *s, size_t n) {
    const char *at = memchr(s, '@', n);
    if (!at || n > 254) return 0;
    size_t local = (size_t)(at - s), dots = 0;
    if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.') return 0;
    for (size_t i = 0; i < local; i++) {
        if (s[i] == '.' && s[i + 1] == '.') return 0;
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+/=?^_`{|}~-.", s[i])) return 0;
    }
    const char *d = at + 1, *end = s + n;
    while (d < end) {
        const char *dot = memchr(d, '.', (size_t)(end - d));
        const char *lend = dot ? dot : end;
        size_t len = (size_t)(lend - d);
        if (len == 0 || len > 63 || d[0] == '-' || lend[-1] == '-') return 0;
        for (const char *p = d; p < lend; p++)
            if (!isalnum((unsigned char)*p) && *p != '-') return 0;
        if (!dot) break;
        dots++;
        d = dot + 1;
        if (d == end) return 0;
    }
    return dots >= 1;
}

static int v_format(const char *f, const char *s, size_t n) {
    if (!strcmp(f, "date")) return v_date(s, n);
    if (!strcmp(f, "time")) return v_time(s, n);
    if (!strcmp(f, "date-time")) return n > 11 && (s[10] == 'T' || s[10] == 't') && v_date(s, 10) && v_time(s + 11, n - 11);
    if (!strcmp(f, "uuid")) return v_uuid(s, n);
    return v_email(s, n);
}

static int v_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!v_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)a, k, x) {
            const json_t *y = json_object_get(b, k);
            if (!y || !v_equal(x, y)) return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static int v_type(const char *t, const json_t *v) {
    if (!strcmp(t, "null")) return json_is_null(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    return json_is_number(v) && json_number_value(v) == floor(json_number_value(v));
}

static int valid(const json_t *sch, const json_t *v);

static int v_numbers(const json_t *sch, const json_t *v) {
    double x = json_number_value(v);
    const json_t *mn = json_object_get(sch, "minimum"), *mx = json_object_get(sch, "maximum");
    const json_t *emn = json_object_get(sch, "exclusiveMinimum"), *emx = json_object_get(sch, "exclusiveMaximum");
    if (mn && (json_is_true(emn) ? x <= json_number_value(mn) : x < json_number_value(mn))) return 0;
    if (mx && (json_is_true(emx) ? x >= json_number_value(mx) : x > json_number_value(mx))) return 0;
    if (json_is_number(emn) && x <= json_number_value(emn)) return 0;
    if (json_is_number(emx) && x >= json_number_value(emx)) return 0;
    return 1;
}

static int v_object(const json_t *sch, const json_t *v) {
    const json_t *props = json_object_get(sch, "properties"), *req = json_object_get(sch, "required");
    for (size_t i = 0; i < json_array_size(req); i++)
        if (!json_object_get(v, json_string_value(json_array_get(req, i)))) return 0;
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        const json_t *p = json_object_get(props, k);
        if (p && !valid(p, x)) return 0;
        if (!p && json_is_false(json_object_get(sch, "additionalProperties"))) return 0;
    }
    return 1;
}

static int v_array(const json_t *sch, const json_t *v) {
    const json_t *items = json_object_get(sch, "items"), *mn = json_object_get(sch, "minItems"),
                 *mx = json_object_get(sch, "maxItems");
    if (mn && json_array_size(v) < (size_t)json_integer_value(mn)) return 0;
    if (mx && json_array_size(v) > (size_t)json_integer_value(mx)) return 0;
    for (size_t i = 0; items && i < json_array_size(v); i++)
        if (!valid(items, json_array_get(v, i))) return 0;
    return 1;
}

static int v_string(const json_t *sch, const json_t *v) {
    size_t n = code_points(json_string_value(v), json_string_length(v));
    const json_t *mn = json_object_get(sch, "minLength"), *mx = json_object_get(sch, "maxLength"),
                 *f = json_object_get(sch, "format");
    if (mn && n < (size_t)json_integer_value(mn)) return 0;
    if (mx && n > (size_t)json_integer_value(mx)) return 0;
    return !f || v_format(json_string_value(f), json_string_value(v), json_string_length(v));
}

static int v_types(const json_t *sch, const json_t *v) {
    const json_t *t = json_object_get(sch, "type");
    if (json_is_string(t)) return v_type(json_string_value(t), v);
    for (size_t i = 0; i < json_array_size(t); i++)
        if (v_type(json_string_value(json_array_get(t, i)), v)) return 1;
    return !t;
}

static int v_combinators(const json_t *sch, const json_t *v) {
    const json_t *any = json_object_get(sch, "anyOf"), *one = json_object_get(sch, "oneOf"),
                 *all = json_object_get(sch, "allOf"), *en = json_object_get(sch, "enum"),
                 *cn = json_object_get(sch, "const"), *ref = json_object_get(sch, "$ref");
    if (ref && !valid(v_resolve(json_string_value(ref)), v)) return 0;
    for (size_t i = 0; i < json_array_size(all); i++)
        if (!valid(json_array_get(all, i), v)) return 0;
    if (any) {
        int ok = 0;
        for (size_t i = 0; i < json_array_size(any) && !ok; i++) ok = valid(json_array_get(any, i), v);
        if (!ok) return 0;
    }
    if (one) {
        int n = 0;
        for (size_t i = 0; i < json_array_size(one); i++) n += valid(json_array_get(one, i), v);
        if (n != 1) return 0;
    }
    if (cn && !v_equal(cn, v)) return 0;
    if (en) {
        int ok = 0;
        for (size_t i = 0; i < json_array_size(en) && !ok; i++) ok = v_equal(json_array_get(en, i), v);
        if (!ok) return 0;
    }
    return 1;
}

static int valid(const json_t *sch, const json_t *v) {
    if (json_is_boolean(sch)) return json_is_true(sch);
    if (!v_types(sch, v) || !v_combinators(sch, v)) return 0;
    if (json_is_object(v)) return v_object(sch, v);
    if (json_is_array(v)) return v_array(sch, v);
    if (json_is_string(v)) return v_string(sch, v);
    if (json_is_number(v)) return v_numbers(sch, v);
    return 1;
}

/* ---- random schemas of the subset ----------------------------------------------- */

static const char *const format_names[] = {"date", "time", "date-time", "uuid", "email"};
static const int format_min[] = {10, 9, 20, 36, 5};

static json_t *random_schema(int depth, json_t *defs);

static json_t *random_string_schema(void) {
    json_t *s = json_pack("{s:s}", "type", "string");
    if (chance(30)) {
        int f = (int)(rnd() % 5);
        json_object_set_new(s, "format", json_string(format_names[f]));
        if (chance(40)) json_object_set_new(s, "maxLength", json_integer(format_min[f] + (int)(rnd() % 30)));
        return s;
    }
    int lo = chance(40) ? (int)(rnd() % 4) : 0;
    if (lo) json_object_set_new(s, "minLength", json_integer(lo));
    if (chance(80)) json_object_set_new(s, "maxLength", json_integer(lo + (int)(rnd() % 12)));
    return s;
}

static json_t *random_number_schema(void) {
    int integer = chance(50);
    json_t *s = json_pack("{s:s}", "type", integer ? "integer" : "number");
    double lo = (double)((int)(rnd() % 2000) - 1000) / (integer ? 1 : 8);
    double hi = lo + (double)(rnd() % 3000) / (integer ? 1 : 4);
    int bounds = (int)(rnd() % 4);
    const char *lo_word = chance(20) ? "exclusiveMinimum" : "minimum", *hi_word = chance(20) ? "exclusiveMaximum" : "maximum";
    if (!strcmp(lo_word, "exclusiveMinimum") && !strcmp(hi_word, "exclusiveMaximum") && hi - lo < 2) hi = lo + 2;
    if (bounds & 1) json_object_set_new(s, lo_word, integer ? json_integer((json_int_t)lo) : json_real(lo));
    if (bounds & 2) json_object_set_new(s, hi_word, integer ? json_integer((json_int_t)hi + 1) : json_real(hi));
    return s;
}

static json_t *random_literal(void) {
    switch (rnd() % 7) {
    case 0: return json_integer((json_int_t)(rnd() % 200) - 100);
    case 1: return json_real((double)((int)(rnd() % 100) - 50) / 4);
    case 2: return json_null();
    case 3: return json_boolean(chance(50));
    case 4: return json_pack("{s:[i,s]}", "k", (int)(rnd() % 5), "v");
    default: {
        static const char *const words[] = {"red", "green", "blue", "a\"b", "\xc3\xa9t\xc3\xa9", "", "x y", "tab\t"};
        return json_string(words[rnd() % 8]);
    }
    }
}

static json_t *random_enum(void) {
    if (chance(25)) return json_pack("{s:o}", "const", random_literal());
    json_t *values = json_array();
    for (int k = 1 + (int)(rnd() % 5); k > 0; k--) json_array_append_new(values, random_literal());
    return json_pack("{s:o}", "enum", values);
}

static json_t *random_object(int depth, json_t *defs) {
    json_t *props = json_object(), *req = json_array();
    int n = (int)(rnd() % 5);
    for (int k = 0; k < n; k++) {
        char name[16];
        snprintf(name, sizeof name, "%s%d", chance(20) ? "p" : "prop", k);
        json_object_set_new(props, name, random_schema(depth + 1, defs));
        if (chance(50)) json_array_append_new(req, json_string(name));
    }
    json_t *s = json_pack("{s:s,s:o,s:o}", "type", "object", "properties", props, "required", req);
    if (chance(60)) json_object_set_new(s, "additionalProperties", json_boolean(chance(70) ? 0 : 1));
    return s;
}

static json_t *random_array(int depth, json_t *defs) {
    int lo = (int)(rnd() % 3);
    return json_pack("{s:s,s:o,s:i,s:i}", "type", "array", "items", random_schema(depth + 1, defs), "minItems", lo,
                     "maxItems", lo + (int)(rnd() % 4));
}

static json_t *random_alternatives(int depth, json_t *defs) {
    if (chance(30)) {  /* oneOf with alternatives of distinct types */
        json_t *list = json_array();
        json_array_append_new(list, random_string_schema());
        json_array_append_new(list, json_pack("{s:s}", "type", "null"));
        if (chance(50)) json_array_append_new(list, random_array(depth + 1, defs));
        return json_pack("{s:o}", "oneOf", list);
    }
    json_t *list = json_array();
    for (int k = 2 + (int)(rnd() % 2); k > 0; k--) json_array_append_new(list, random_schema(depth + 1, defs));
    return json_pack("{s:o}", "anyOf", list);
}

static json_t *random_ref(int depth, json_t *defs) {
    char name[16];
    snprintf(name, sizeof name, "d%zu", json_object_size(defs));
    json_object_set_new(defs, name, json_true());  /* the name is taken before the definition recurses */
    json_object_set_new(defs, name, random_schema(depth + 1, defs));
    char ref[32];
    snprintf(ref, sizeof ref, "#/$defs/%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

static json_t *random_schema(int depth, json_t *defs) {
    int leaf = depth >= 3;
    switch (rnd() % (leaf ? 5 : 10)) {
    case 0: return random_string_schema();
    case 1: return random_number_schema();
    case 2: return random_enum();
    case 3: return json_pack("{s:s}", "type", chance(50) ? "boolean" : "null");
    case 4: return chance(50) ? json_pack("{s:[s,s]}", "type", "string", "integer") : random_string_schema();
    case 5:
    case 6: return random_object(depth, defs);
    case 7: return random_array(depth, defs);
    case 8: return random_alternatives(depth, defs);
    default: return chance(50) ? random_ref(depth, defs) : json_pack("{s:[o]}", "allOf", random_schema(depth + 1, defs));
    }
}

/* ---- random walks through the automaton ------------------------------------------ */

static int is_ws_byte(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The bytes allowed after the text so far. */
static int allowed_bytes(const json_schema *s, const jm_state *st, int *out) {
    int n = 0;
    for (int c = 0; c < 256; c++)
        if (jm_step(s, st, st_c, (unsigned)c) == 0) out[n++] = c;
    return n;
}

/* Toward the end: closing bytes first, whitespace last. */
static int finishing_byte(const int *allowed, int n) {
    static const char order[] = "\"}],:0n";
    for (const char *o = order; *o; o++)
        for (int i = 0; i < n; i++)
            if (allowed[i] == (unsigned char)*o) return allowed[i];
    for (int i = 0; i < n; i++)
        if (!is_ws_byte(allowed[i])) return allowed[i];
    return allowed[0];
}

static int random_byte(const int *allowed, int n) {
    /* mostly printable ASCII, so that strings look like text */
    for (int tries = 0; tries < 4; tries++) {
        int c = allowed[rnd() % (uint32_t)n];
        if ((c >= 0x20 && c < 0x7f) || chance(20)) return c;
    }
    return allowed[rnd() % (uint32_t)n];
}

/* Walks to a complete document: random bytes first, then the finishing
 * ones. Returns the text's length, or -1 if the automaton got stuck. */
static long random_walk(const json_schema *s, char *text, size_t cap) {
    jm_state *cur = st_a, *next = st_b;
    jm_start(s, cur);
    int allowed[256];
    long wander = (long)(rnd() % 300), len = 0;
    while ((size_t)len + 1 < cap) {
        int complete = jm_complete(s, cur);
        if (complete && (len >= wander || chance(10))) return len;
        int n = allowed_bytes(s, cur, allowed);
        if (!n) return complete ? len : -1;
        int c = len < wander ? random_byte(allowed, n) : finishing_byte(allowed, n);
        if (jm_step(s, cur, next, (unsigned)c)) return -1;
        text[len++] = (char)c;
        jm_state *t = cur;
        cur = next, next = t;
    }
    return -1;
}

/* ---- valid documents generated from the schema ----------------------------------- */

static json_t *instance(const json_t *sch, const json_t *root, int depth);

static json_t *string_of_format(const char *f) {
    char buf[96];
    int y = 1900 + (int)(rnd() % 300), m = 1 + (int)(rnd() % 12), d = 1 + (int)(rnd() % (uint32_t)days_in(y, m));
    char tm[40];
    snprintf(tm, sizeof tm, "%02d:%02d:%02d%s%s", (int)(rnd() % 24), (int)(rnd() % 60), (int)(rnd() % 60),
             chance(50) ? ".25" : "", chance(50) ? "Z" : "+05:30");
    if (!strcmp(f, "date")) snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    else if (!strcmp(f, "time")) snprintf(buf, sizeof buf, "%s", tm);
    else if (!strcmp(f, "date-time")) snprintf(buf, sizeof buf, "%04d-%02d-%02dT%s", y, m, d, tm);
    else if (!strcmp(f, "uuid")) snprintf(buf, sizeof buf, "%08x-%04x-%04X-%04x-%08x%04x", rnd(), rnd() & 0xffff,
                                          rnd() & 0xffff, rnd() & 0xffff, rnd(), rnd() & 0xffff);
    else snprintf(buf, sizeof buf, "u%u.x@mail-%u.example", rnd() % 100, rnd() % 10);
    return json_string(buf);
}

static json_t *instance_string(const json_t *sch) {
    const json_t *f = json_object_get(sch, "format");
    if (f) {
        json_t *s = string_of_format(json_string_value(f));
        const json_t *mx = json_object_get(sch, "maxLength");
        if (mx && json_string_length(s) > (size_t)json_integer_value(mx)) {
            json_decref(s);
            return NULL;
        }
        return s;
    }
    static const char *const chars[] = {"a", "Z", " ", "\"", "\\", "\n", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "/"};
    long lo = json_integer_value(json_object_get(sch, "minLength")), hi = json_object_get(sch, "maxLength")
                                                                          ? json_integer_value(json_object_get(sch, "maxLength"))
                                                                          : lo + 8;
    long n = lo + (long)(rnd() % (uint32_t)(hi - lo + 1));
    char buf[256] = "";
    for (long i = 0; i < n; i++) strcat(buf, chars[rnd() % 10]);
    return json_string(buf);
}

static json_t *instance_number(const json_t *sch, int integer) {
    const json_t *mn = json_object_get(sch, "minimum"), *mx = json_object_get(sch, "maximum");
    const json_t *emn = json_object_get(sch, "exclusiveMinimum"), *emx = json_object_get(sch, "exclusiveMaximum");
    double lo = mn ? json_number_value(mn) : emn ? json_number_value(emn) + 0.25 : -1000;
    double hi = mx ? json_number_value(mx) : emx ? json_number_value(emx) - 0.25 : 1000;
    for (int tries = 0; tries < 50; tries++) {
        double x = lo + (hi - lo) * (rnd() % 1001) / 1000.0;
        x = integer ? round(x) : round(x * 4) / 4;
        json_t *v = integer || x == floor(x) ? json_integer((json_int_t)x) : json_real(x);
        if (valid(sch, v)) return v;
        json_decref(v);
    }
    return NULL;
}

static json_t *instance_object(const json_t *sch, const json_t *root, int depth) {
    json_t *o = json_object();
    const json_t *props = json_object_get(sch, "properties"), *req = json_object_get(sch, "required");
    const char *k;
    const json_t *p;
    json_object_foreach((json_t *)props, k, p) {
        int required = 0;
        for (size_t i = 0; i < json_array_size(req); i++) required |= !strcmp(json_string_value(json_array_get(req, i)), k);
        if (!required && chance(40)) continue;
        json_t *x = instance(p, root, depth + 1);
        if (!x) return json_decref(o), NULL;
        json_object_set_new(o, k, x);
    }
    return o;
}

static json_t *instance_array(const json_t *sch, const json_t *root, int depth) {
    json_t *a = json_array();
    const json_t *items = json_object_get(sch, "items");
    long lo = json_integer_value(json_object_get(sch, "minItems")), hi = json_integer_value(json_object_get(sch, "maxItems"));
    for (long n = lo + (long)(rnd() % (uint32_t)(hi - lo + 1)); n > 0; n--) {
        json_t *x = instance(items, root, depth + 1);
        if (!x) return json_decref(a), NULL;
        json_array_append_new(a, x);
    }
    return a;
}

/* A document valid for the schema and inside what the automaton
 * generates (properties in order, bounded digits), or NULL. */
static json_t *instance(const json_t *sch, const json_t *root, int depth) {
    if (depth > 12) return NULL;
    const json_t *x;
    if ((x = json_object_get(sch, "$ref"))) {
        v_root = root;
        return instance(v_resolve(json_string_value(x)), root, depth + 1);
    }
    if ((x = json_object_get(sch, "allOf"))) return instance(json_array_get(x, 0), root, depth + 1);
    if ((x = json_object_get(sch, "anyOf")) || (x = json_object_get(sch, "oneOf")))
        return instance(json_array_get(x, rnd() % json_array_size(x)), root, depth + 1);
    if ((x = json_object_get(sch, "const"))) return json_deep_copy(x);
    if ((x = json_object_get(sch, "enum"))) return json_deep_copy(json_array_get(x, rnd() % json_array_size(x)));
    const json_t *t = json_object_get(sch, "type");
    const char *type = json_is_array(t) ? json_string_value(json_array_get(t, rnd() % json_array_size(t)))
                                        : json_string_value(t);
    if (!strcmp(type, "string")) return instance_string(sch);
    if (!strcmp(type, "integer") || !strcmp(type, "number")) return instance_number(sch, !strcmp(type, "integer"));
    if (!strcmp(type, "boolean")) return json_boolean(chance(50));
    if (!strcmp(type, "null")) return json_null();
    if (!strcmp(type, "object")) return instance_object(sch, root, depth);
    return instance_array(sch, root, depth);
}

static void test_random_schemas(int n_schemas) {
    char err[512], *text = malloc(1 << 20);
    int walks = 0, instances = 0, failures = 0;
    for (int i = 0; i < n_schemas && failures < 5; i++) {
        json_t *defs = json_object(), *sch = random_schema(0, defs);
        if (json_object_size(defs)) json_object_set_new(sch, "$defs", defs);
        else json_decref(defs);
        char *sch_text = json_dumps(sch, JSON_COMPACT);
        json_schema *s = NULL;
        int rc = json_schema_compile(sch, &s, err, sizeof err);
        CHECK(rc == 0, "random schema %d does not compile: %s\n%s", i, err, sch_text);
        if (rc) failures++;
        v_root = sch;
        for (int w = 0; s && w < 4; w++) {
            long len = random_walk(s, text, 1 << 20);
            CHECK(len >= 0, "schema %d: the walk got stuck after '%.*s'\n%s", i, (int)(len < 0 ? 0 : len), text, sch_text);
            if (len < 0) { failures++; break; }
            json_error_t je;
            json_t *doc = json_loadb(text, (size_t)len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
            v_root = sch;
            int ok = doc && valid(sch, doc);
            CHECK(ok, "schema %d: the walk gave '%.*s' (%s)\n%s", i, (int)len, text, doc ? "invalid" : je.text, sch_text);
            failures += !ok;
            walks++;
            json_decref(doc);
        }
        for (int k = 0; s && k < 4; k++) {
            json_t *doc = instance(sch, sch, 0);
            if (!doc) continue;
            /* objects and arrays from enum/const are matched in their compact text only */
            int compact = chance(50) || strstr(sch_text, "\"k\":[");
            char *t = json_dumps(doc, JSON_ENCODE_ANY | JSON_REAL_PRECISION(12) | (compact ? JSON_COMPACT : JSON_INDENT(1)));
            v_root = sch;
            if (valid(sch, doc)) {
                int got = verdict(s, t, strlen(t));
                CHECK(got == VALID, "schema %d: the valid document '%s' is %s\n%s", i, t,
                      got == PREFIX ? "only a prefix" : "rejected", sch_text);
                failures += got != VALID;
                instances++;
            }
            free(t);
            json_decref(doc);
        }
        free(sch_text);
        json_schema_free(s);
        json_decref(sch);
    }
    printf("random schemas: %d, walks completed and valid: %d, generated documents accepted: %d\n", n_schemas, walks,
           instances);
    CHECK(walks > n_schemas * 3 && instances > n_schemas, "enough walks (%d) and documents (%d) were checked", walks,
          instances);
    free(text);
}

/* ---- the mask over the real vocabulary, in schema states ------------------------------ */

static void check_mask(const qwenc_tokenizer *t, const json_vocab *v, int vocab_size, const json_schema *s,
                       const char *prefix, int32_t end) {
    json_guard *g = json_guard_new(v, s, &end, 1);
    CHECK(g && json_guard_feed(g, prefix, strlen(prefix)) == 0, "mask: '%s' is a valid prefix", prefix);
    if (!g) return;
    float *logits = malloc((size_t)vocab_size * sizeof *logits);
    for (int i = 0; i < vocab_size; i++) logits[i] = (float)(i % 5);
    json_guard_mask(g, logits);
    int wrong = 0, allowed = 0, first_wrong = -1;
    for (int32_t id = 0; id < vocab_size; id++) {
        size_t len = 0;
        const char *b = qwenc_token_bytes(t, id, &len);
        int want = id == end ? json_guard_complete(g)
                             : b && len && !qwenc_token_is_added(t, id) && json_guard_allows_bytes(g, b, len);
        int got = isfinite(logits[id]) && logits[id] == (float)(id % 5);
        if (got != want && wrong++ == 0) first_wrong = id;
        allowed += got;
    }
    CHECK(wrong == 0, "mask after '%s': %d ids differ from trying each token (first %d)", prefix, wrong, first_wrong);
    CHECK(allowed > 0, "mask after '%s': something is allowed", prefix);
    free(logits);
    json_guard_free(g);
}

static void test_masks(const qwenc_tokenizer *t, const json_vocab *v, int vocab_size) {
    int32_t eos = qwenc_token_id(t, "<|im_end|>"), close = qwenc_token_id(t, "</tool_call>");
    json_schema *s = compiled("{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 3},"
                              " \"bio\": {\"type\": \"string\", \"minLength\": 2}, \"n\": {\"type\": \"integer\", \"minimum\": 10,"
                              " \"maximum\": 99}, \"day\": {\"type\": \"string\", \"format\": \"date\"}, \"any\": {\"anyOf\": ["
                              "{\"type\": \"string\", \"maxLength\": 1}, {\"type\": \"string\"}, {\"enum\": [\"ab\", 7, 75]}]}}}");
    static const char *const prefixes[] = {"", "{", "{\"", "{\"name\": \"", "{\"name\": \"a", "{\"name\": \"abc",
                                           "{\"name\": \"\\u00", "{\"bio\": \"", "{\"n\": 1", "{\"n\": 7",
                                           "{\"day\": \"2024-0", "{\"any\": ", "{\"any\": \"", "{\"any\": \"a",
                                           "{\"any\": 7", "{\"n\": 75}"};
    for (size_t i = 0; s && i < sizeof prefixes / sizeof *prefixes; i++) check_mask(t, v, vocab_size, s, prefixes[i], eos);
    json_schema_free(s);
    char err[512];
    json_t *tools = json_loads("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {"
                               "\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}},"
                               " {\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}]", 0, NULL);
    json_schema *ts = NULL;
    CHECK(json_schema_compile_tools(tools, NULL, &ts, err, sizeof err) == 0, "%s", err);
    static const char *const tool_prefixes[] = {"\n", "\n{\"name\": \"get_", "\n{\"name\": \"get_time\", \"arguments\": {}}"};
    for (size_t i = 0; ts && i < 3; i++) check_mask(t, v, vocab_size, ts, tool_prefixes[i], close);
    json_schema_free(ts);
    json_decref(tools);
}

int main(void) {
    st_a = malloc(JM_STATE_MAX), st_b = malloc(JM_STATE_MAX), st_c = malloc(JM_STATE_MAX);
    test_compiler();
    test_tool_compiler();
    test_hand_made();
    test_tool_texts();
    int sanitized = getenv("QWENC_SANITIZED") != NULL;
    test_random_schemas(sanitized ? 60 : 300);

    char err[512];
    qwenc_tokenizer *t = NULL;
    int rc = qwenc_tokenizer_open(check_env("QWENC_TOKENIZER_DIR"), &t, err, sizeof err);
    CHECK(rc == 0, "tokenizer: %s", err);
    if (!rc) {
        int vocab_size = qwenc_tokenizer_n_tokens(t) + 64;
        json_vocab *v = json_vocab_new(t, vocab_size);
        CHECK(v != NULL, "json_vocab_new");
        if (v) test_masks(t, v, vocab_size);
        json_vocab_free(v);
        qwenc_tokenizer_free(t);
    }
    free(st_a), free(st_b), free(st_c);
    return check_summary();
}
