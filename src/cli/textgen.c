#include "cli/textgen.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int is_eos(const qwenc_gen_defaults *d, int32_t id) {
    for (int i = 0; i < d->n_eos; i++)
        if (d->eos_ids[i] == id) return 1;
    return 0;
}

int cli_generate(qwenc_model *m, qwenc_session *s, qwenc_sampler *smp, const int32_t *prompt, int n_prompt,
                 const cli_gen_opts *o, cli_gen_fn fn, void *ctx, cli_gen_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    st->n_prompt = n_prompt;
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    qwenc_gen_defaults d;
    qwenc_model_gen_defaults(m, &d);
    qwenc_tokenizer *tok = qwenc_model_tokenizer(m);
    qwenc_detok_stream *ds = tok ? qwenc_detok_stream_new(tok, o->skip_special) : NULL;
    if (tok && !ds) return snprintf(err, errlen, "out of memory"), QWENC_ENOMEM;

    /* the penalties look at this prompt and this answer only */
    qwenc_sampler_reset(smp);
    for (int i = 0; i < n_prompt; i++) qwenc_sampler_accept(smp, prompt[i], 1);
    double t0 = cli_now();
    int rc = qwenc_session_sync(s, prompt, n_prompt, &st->n_reused, err, errlen);
    double t1 = cli_now();
    st->prefill_s = t1 - t0;
    while (!rc && (o->n_predict < 0 || st->n_generated < o->n_predict)) {
        int32_t id = qwenc_sample(smp, qwenc_session_logits(s), in.vocab_size);
        st->n_generated++;
        qwenc_sampler_accept(smp, id, 0);
        if (!o->ignore_eos && is_eos(&d, id)) {
            st->stop_eos = 1;
            break;
        }
        size_t len = 0;
        const char *text = ds ? qwenc_detok_stream_push(ds, id, &len) : "";
        if (fn(ctx, id, text, len)) {
            st->stop_cancel = 1;
            break;
        }
        if (o->n_predict >= 0 && st->n_generated >= o->n_predict) break;
        if (qwenc_session_n_past(s) >= qwenc_session_n_ctx(s)) break;  /* context full */
        rc = qwenc_session_eval(s, &id, 1, NULL, err, errlen);
    }
    if (ds) {
        size_t len;
        const char *text = qwenc_detok_stream_flush(ds, &len);
        if (len) fn(ctx, -1, text, len);
        qwenc_detok_stream_free(ds);
    }
    st->decode_s = cli_now() - t1;
    return rc;
}
