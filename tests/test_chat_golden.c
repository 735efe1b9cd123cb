/* Chat templates against transformers: every case of chat_golden.json
 * (rendered by apply_chat_template with the real Qwen3 template) must render
 * byte for byte, both from the template text and through a tokenizer; and
 * the demo model's chat prompts in its golden.json, whose conversations are
 * reconstructed here, must render to the same text. */
#include "qwenc.h"
#include "tokenizer/template.h"

#include <jansson.h>

#include "check.h"
#include <string.h>

static const char *str_or_null(json_t *v) { return json_is_string(v) ? json_string_value(v) : NULL; }

static void test_golden_cases(json_t *cases, json_t *config, qwenc_tokenizer *tok) {
    const char *tmpl = json_string_value(json_object_get(config, "chat_template"));
    const char *bos = str_or_null(json_object_get(config, "bos_token"));
    const char *eos = str_or_null(json_object_get(config, "eos_token"));
    CHECK(tmpl != NULL, "tokenizer_config.json has a chat_template");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *expected = json_string_value(json_object_get(c, "rendered"));
        char *req = check_chat_request(c), *out = NULL, err[512] = "";
        int rc = qw_chat_render_template(tmpl, req, bos, eos, &out, err, sizeof err);
        CHECK(rc == 0, "%s: %s", name, err);
        CHECK(rc || strcmp(out, expected) == 0, "%s: rendered differently:\n[%s]\nexpected\n[%s]", name, out, expected);
        free(out);
        out = NULL;
        rc = qwenc_chat_render(tok, req, &out, err, sizeof err);
        CHECK(rc == 0, "%s via tokenizer: %s", name, err);
        CHECK(rc || strcmp(out, expected) == 0, "%s via tokenizer: rendered differently", name);
        free(out);
        free(req);
    }
}

#define WEATHER_TOOL                                                                                          \
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current " \
    "weather in a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": "     \
    "\"string\", \"description\": \"City name\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", "  \
    "\"fahrenheit\"]}}, \"required\": [\"city\"]}}}"

/* The conversations behind the demo model's chat prompts (see its README). */
static const struct {
    const char *name, *request;
} demo_requests[] = {
    {"chat_weather_tool",
     "{\"messages\": [{\"role\": \"user\", \"content\": \"What's the weather in Paris?\"}], \"tools\": [" WEATHER_TOOL
     "], \"add_generation_prompt\": true}"},
    {"chat_tool_result",
     "{\"messages\": [{\"role\": \"user\", \"content\": \"What's the weather in Tokyo?\"}, {\"role\": \"assistant\", "
     "\"content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
     "\"arguments\": {\"city\": \"Tokyo\"}}}]}, {\"role\": \"tool\", \"content\": \"{\\\"temperature\\\": 21, "
     "\\\"unit\\\": \\\"celsius\\\", \\\"condition\\\": \\\"rainy\\\"}\"}], \"tools\": [" WEATHER_TOOL
     "], \"add_generation_prompt\": true}"},
    {"chat_add", "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 12 + 30?\"}], \"add_generation_prompt\": true}"},
    {"chat_hello_nothink",
     "{\"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}], \"add_generation_prompt\": true, "
     "\"enable_thinking\": false}"},
};

static void test_demo_model(const char *root) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/qwenc-demo", root);
    json_t *golden = check_load_json(dir, "golden.json");
    qwenc_tokenizer *tok;
    char err[512];
    int rc = qwenc_tokenizer_open(dir, &tok, err, sizeof err);
    CHECK(rc == 0, "demo tokenizer: %s", err);
    if (rc) return;
    for (size_t k = 0; k < sizeof demo_requests / sizeof demo_requests[0]; k++) {
        const char *expected = NULL;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(golden, "prompts"), i, p)
            if (!strcmp(json_string_value(json_object_get(p, "name")), demo_requests[k].name))
                expected = json_string_value(json_object_get(p, "text"));
        CHECK(expected != NULL, "demo golden.json has prompt %s", demo_requests[k].name);
        char *out = NULL;
        rc = qwenc_chat_render(tok, demo_requests[k].request, &out, err, sizeof err);
        CHECK(rc == 0, "%s: %s", demo_requests[k].name, err);
        CHECK(rc || !expected || strcmp(out, expected) == 0, "%s: rendered differently:\n[%s]\nexpected\n[%s]",
              demo_requests[k].name, out, expected);
        free(out);
    }
    qwenc_tokenizer_free(tok);
    json_decref(golden);
}

int main(void) {
    const char *data = check_env("QWENC_TEST_DATA");
    const char *tokdir = check_env("QWENC_TOKENIZER_DIR");
    char cfgdir[4096];
    snprintf(cfgdir, sizeof cfgdir, "%s/tokenizer", data);
    json_t *golden = check_load_json(data, "chat_golden.json");
    json_t *config = check_load_json(cfgdir, "tokenizer_config.json");
    json_t *cases = json_object_get(golden, "cases");
    CHECK(json_array_size(cases) >= 11, "chat_golden.json has its cases");
    qwenc_tokenizer *tok;
    char err[512];
    int rc = qwenc_tokenizer_open(tokdir, &tok, err, sizeof err);
    CHECK(rc == 0, "tokenizer: %s", err);
    if (rc == 0) {
        test_golden_cases(cases, config, tok);
        qwenc_tokenizer_free(tok);
    }
    test_demo_model(check_env("QWENC_ROOT"));
    json_decref(config);
    json_decref(golden);
    return check_summary();
}
