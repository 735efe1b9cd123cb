#include "kernels/cpu/ref.h"
#include "format/gguf.h"
#include "format/quant.h"

#include <math.h>
#include <stdlib.h>

float qw_vec_get(const qw_vec *v, int64_t i) {
    switch (v->dtype) {
    case QW_DT_F32: return ((const float *)v->data)[i];
    case QW_DT_BF16: return qw_bf16_to_f32(((const uint16_t *)v->data)[i]);
    case QW_DT_F16: return qw_f16_to_f32(((const uint16_t *)v->data)[i]);
    default: return NAN;
    }
}

void ref_row_to_f32(const qw_mat *w, int64_t row, float *out) {
    const char *src = (const char *)w->data + row * qw_dtype_row_bytes(w->dtype, w->cols);
    if (qw_dtype_block(w->dtype)) {
        qw_dequant_row(qw_ggml_type_of(w->dtype), src, w->cols, out);
        return;
    }
    qw_vec v = {src, w->dtype, w->cols};
    for (int64_t c = 0; c < w->cols; c++) out[c] = qw_vec_get(&v, c);
}

void ref_matmul(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok) {
    (void)pool;
    float *row = malloc((size_t)w->cols * sizeof *row);
    if (!row) abort();  /* reference code for tests only */
    for (int64_t r = 0; r < w->rows; r++) {
        ref_row_to_f32(w, r, row);
        for (int t = 0; t < n_tok; t++) {
            const float *xt = x + (int64_t)t * w->cols;
            double acc = 0;
            for (int64_t c = 0; c < w->cols; c++) acc += (double)row[c] * xt[c];
            y[(int64_t)t * w->rows + r] = (float)acc;
        }
    }
    free(row);
}

void ref_rmsnorm(float *y, const float *x, const qw_vec *gain, int n_rows, int dim, float eps) {
    for (int t = 0; t < n_rows; t++) {
        const float *xt = x + (int64_t)t * dim;
        float *yt = y + (int64_t)t * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++) ss += (double)xt[i] * xt[i];
        float inv = 1.0f / sqrtf((float)(ss / dim) + eps);
        for (int i = 0; i < dim; i++) yt[i] = qw_vec_get(gain, i) * (xt[i] * inv);
    }
}

void ref_add_bias(float *y, const qw_vec *bias, int n_rows) {
    for (int t = 0; t < n_rows; t++)
        for (int64_t i = 0; i < bias->n; i++) y[t * bias->n + i] += qw_vec_get(bias, i);
}

void ref_rope(float *x, int n_tok, int n_heads, int head_dim, const int *pos, const float *inv_freq) {
    int half = head_dim / 2;
    for (int r = 0; r < n_tok * n_heads; r++) {
        float *v = x + (int64_t)r * head_dim;
        for (int i = 0; i < half; i++) {
            float angle = (float)pos[r / n_heads] * inv_freq[i];
            float c = cosf(angle), s = sinf(angle);
            float a = v[i], b = v[i + half];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
}

void ref_attention(qw_pool *pool, const qw_attn_args *a) {
    (void)pool;
    int kv_dim = a->n_kv_heads * a->head_dim, q_dim = a->n_heads * a->head_dim;
    int group = a->n_heads / a->n_kv_heads;
    double *p = malloc((size_t)(a->n_past + a->n_tok) * sizeof *p);
    if (!p) abort();
    for (int t = 0; t < a->n_tok; t++) {
        int pos = a->n_past + t;
        int first = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        for (int h = 0; h < a->n_heads; h++) {
            const float *q = a->q + (int64_t)t * q_dim + h * a->head_dim;
            int kvh = h / group;
            double mx = -INFINITY, sum = 0;
            for (int j = first; j <= pos; j++) {
                const float *k = a->k_cache + (int64_t)j * kv_dim + kvh * a->head_dim;
                double s = 0;
                for (int d = 0; d < a->head_dim; d++) s += (double)q[d] * k[d];
                p[j] = s * a->scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = first; j <= pos; j++) sum += (p[j] = exp(p[j] - mx));
            float *o = a->out + (int64_t)t * q_dim + h * a->head_dim;
            for (int d = 0; d < a->head_dim; d++) {
                double acc = 0;
                for (int j = first; j <= pos; j++)
                    acc += p[j] * a->v_cache[(int64_t)j * kv_dim + kvh * a->head_dim + d];
                o[d] = (float)(acc / sum);
            }
        }
    }
    free(p);
}

void ref_swiglu(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void ref_embed(const qw_mat *emb, const int32_t *ids, int n, float *out) {
    for (int i = 0; i < n; i++) ref_row_to_f32(emb, ids[i], out + (int64_t)i * emb->cols);
}
