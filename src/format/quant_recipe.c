#include "format/quant_recipe.h"
#include "base/err.h"
#include "format/gguf.h"
#include "format/kquant.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    /* file_type: LLAMA_FTYPE_ALL_F32 0, MOSTLY_F16 1, _Q4_0 2, _Q8_0 7, _Q4_K_S 14 (what --pure Q4_K writes),
     * _Q4_K_M 15, _Q6_K 18, _BF16 32 */
    uint32_t type, file_type;
    int q4_k_m;
} recipes[] = {
    {"f32", QW_GGML_F32, 0, 0},   {"f16", QW_GGML_F16, 1, 0},   {"bf16", QW_GGML_BF16, 32, 0},
    {"q8_0", QW_GGML_Q8_0, 7, 0}, {"q4_0", QW_GGML_Q4_0, 2, 0}, {"q4_k", QW_GGML_Q4_K, 14, 0},
    {"q6_k", QW_GGML_Q6_K, 18, 0}, {"q4_k_m", QW_GGML_Q4_K, 15, 1},
};
#define N_RECIPES (sizeof recipes / sizeof recipes[0])

const char *qw_quant_recipe_names(void) { return "f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q4_k_m"; }

int qw_quant_recipe_init(const char *name, int n_layers, int n_experts, qw_quant_recipe *r, char *err,
                         size_t errlen) {
    for (size_t i = 0; name && i < N_RECIPES; i++) {
        if (strcmp(name, recipes[i].name)) continue;
        *r = (qw_quant_recipe){recipes[i].name, recipes[i].type, recipes[i].file_type, recipes[i].q4_k_m, n_layers,
                               n_experts};
        if (r->q4_k_m && n_experts == 8)
            return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                           "q4_k_m: llama.cpp gives the attention output of 8-expert models Q5_K, which qwenc does "
                           "not write (use q4_k or q6_k)");
        return 0;
    }
    return qw_errf(err, errlen, QWENC_EINVAL, "unknown weight type '%s' (%s)", name ? name : "(null)",
                   qw_quant_recipe_names());
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and
 * every third one between. */
static int use_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* The Q4_K_M choice for a matrix (llama_tensor_get_type_impl's branches
 * that apply to Q4_K_M on Qwen tensors). */
static uint32_t q4_k_m_type(const qw_quant_recipe *r, const char *name, int64_t ne0, int tied) {
    int layer = -1;
    sscanf(name, "blk.%d.", &layer);
    if (!strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight")))
        return ne0 % QW_QK_K ? QW_GGML_Q8_0 : QW_GGML_Q6_K;
    if (strstr(name, "attn_v.weight") || strstr(name, "ffn_down"))
        return layer >= 0 && use_more_bits(layer, r->n_layers) ? QW_GGML_Q6_K : r->type;
    return r->type;
}

/* tensor_type_fallback: a type whose blocks do not fit the rows. */
static uint32_t fallback(uint32_t type, int64_t ne0) {
    if (ne0 % qw_gguf_type_block(type) == 0) return type;
    if (type == QW_GGML_Q4_K) type = QW_GGML_Q5_0;
    else if (type == QW_GGML_Q6_K) type = QW_GGML_Q8_0;
    return ne0 % qw_gguf_type_block(type) ? QW_GGML_F16 : type;
}

uint32_t qw_quant_recipe_type(const qw_quant_recipe *r, const char *name, int n_dims, int64_t ne0, int tied) {
    if (n_dims == 1 || has_suffix(name, "_norm.weight") || strstr(name, ".ffn_gate_inp.")) return QW_GGML_F32;
    return fallback(r->q4_k_m ? q4_k_m_type(r, name, ne0, tied) : r->type, ne0);
}
