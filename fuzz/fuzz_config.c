/* config.json and generation_config.json: the input up to its first NUL is
 * a config.json, the rest a generation_config.json. Either a parse fails
 * with one line, or the config holds what the model code relies on. */
#include "format/config.h"

#include "fuzz.h"

static void check_config(const qw_config *c) {
    FUZZ_CHECK(c->vocab_size > 0 && c->hidden_size > 0 && c->intermediate_size > 0 && c->n_layers > 0,
               "a dimension is not positive");
    FUZZ_CHECK(c->n_heads > 0 && c->n_kv_heads > 0 && c->n_heads % c->n_kv_heads == 0, "heads %d / %d", c->n_heads,
               c->n_kv_heads);
    FUZZ_CHECK(c->head_dim >= 2 && c->head_dim % 2 == 0, "head_dim %d", c->head_dim);
    FUZZ_CHECK(c->max_position_embeddings > 0 && c->rope_theta > 0, "positions or rope_theta");
    FUZZ_CHECK(c->arch_name && c->mlp_only, "no arch name or layer table");
    if (c->arch == QW_ARCH_QWEN3_MOE)
        FUZZ_CHECK(c->n_experts > 0 && c->n_experts_per_tok > 0 && c->n_experts_per_tok <= c->n_experts &&
                       c->decoder_sparse_step > 0,
                   "experts %d, %d per token, step %d", c->n_experts, c->n_experts_per_tok, c->decoder_sparse_step);
    FUZZ_CHECK(c->gen.n_eos >= 0 && c->gen.n_eos <= QW_MAX_EOS, "n_eos %d", c->gen.n_eos);
    int layers = c->n_layers < 4096 ? c->n_layers : 4096;  /* every layer's table entry is readable */
    for (int l = 0; l < layers; l++) (void)qw_config_layer_is_moe(c, l);
    (void)qw_config_layer_is_moe(c, c->n_layers - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *cfg, *gen, err[512] = "";
    size_t cn, gn;
    fuzz_split(data, size, &cfg, &cn, &gen, &gn);
    qw_config c;
    int rc = qw_config_parse("config.json", cfg, cn, &c, err, sizeof err);
    if (rc) {
        FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
    } else {
        check_config(&c);
        if ((rc = qw_config_parse_generation("generation_config.json", gen, gn, &c, err, sizeof err)))
            FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
        check_config(&c);
        qw_config_free(&c);
    }
    /* generation_config.json alone, over the defaults */
    qw_config d = {.eos_id = -1};
    qw_config_default_generation(&d);
    err[0] = 0;
    if (qw_config_parse_generation("generation_config.json", cfg, cn, &d, err, sizeof err))
        FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
    FUZZ_CHECK(d.gen.n_eos >= 0 && d.gen.n_eos <= QW_MAX_EOS, "n_eos %d", d.gen.n_eos);
    free(cfg);
    free(gen);
    return 0;
}
