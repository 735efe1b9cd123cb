/* The chat-template engine: the input up to its first NUL is a template,
 * the rest a JSON context. The render either fails with one line naming
 * the problem (the engine's step, depth and size limits make a template
 * that would loop, recurse or grow forever such a failure) or gives valid
 * UTF-8. It renders under smaller step and byte limits than the defaults
 * (which allow a 16 MB request through a real template, so a hostile
 * template may spend seconds before it fails): the same limits, met in
 * milliseconds, so anything slow per step or per byte stands out. */
#include "tokenizer/template.h"

#include "fuzz.h"

static void check_render(int rc, char *out, const char *err) {
    if (rc) {
        FUZZ_CHECK(rc == QWENC_EINVAL || rc == QWENC_ENOMEM || rc == QWENC_EUNSUPPORTED, "rc %d", rc);
        FUZZ_CHECK(!out && fuzz_one_line(err), "error is not one line: '%s'", err);
        return;
    }
    FUZZ_CHECK(out && fuzz_utf8_valid(out, strlen(out)), "output is not UTF-8");
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *tmpl, *ctx_text, *out = NULL, err[512] = "";
    size_t tn, cn;
    fuzz_split(data, size, &tmpl, &tn, &ctx_text, &cn);
    json_t *ctx = json_loadb(ctx_text, cn, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    static const qw_template_limits limits = {.max_steps = 200000, .max_bytes = 16 << 20};
    int rc = qw_template_render_limits(tmpl, json_is_object(ctx) ? ctx : NULL, &limits, &out, err, sizeof err);
    check_render(rc, out, err);
    json_decref(ctx);
    free(tmpl);
    free(ctx_text);
    return 0;
}
