#include "kernels/cpu/ref.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "kernels/cpu/qtile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float qw_vec_get(const qw_vec *v, int64_t i) {
    switch (v->dtype) {
    case QW_DT_F32: return ((const float *)v->data)[i];
    case QW_DT_BF16: return qw_bf16_to_f32(((const uint16_t *)v->data)[i]);
    case QW_DT_F16: return qw_f16_to_f32(((const uint16_t *)v->data)[i]);
    default: return NAN;
    }
}

void qw_vec_to_f32(const qw_vec *v, int64_t i0, int64_t n, float *out) {
    const uint16_t *h = (const uint16_t *)v->data + i0;
    switch (v->dtype) {
    case QW_DT_F32: memcpy(out, (const float *)v->data + i0, (size_t)n * sizeof *out); break;
    case QW_DT_BF16: for (int64_t i = 0; i < n; i++) out[i] = qw_bf16_to_f32(h[i]); break;
    case QW_DT_F16: for (int64_t i = 0; i < n; i++) out[i] = qw_f16_to_f32(h[i]); break;
    default: for (int64_t i = 0; i < n; i++) out[i] = NAN; break;
    }
}

void ref_row_to_f32(const qw_mat *w, int64_t row, float *out) {
    const char *src = (const char *)w->data + row * qw_dtype_row_bytes(w->dtype, w->cols);
    if (qw_dtype_block(w->dtype)) {
        qw_dequant_row(qw_ggml_type_of(w->dtype), src, w->cols, out);
        return;
    }
    qw_vec v = {src, w->dtype, w->cols};
    qw_vec_to_f32(&v, 0, w->cols, out);
}

/* Q8_0 / Q4_0 weights times activations quantized per block, as qtile.h
 * defines it: exact int32 block sums, one float chain per output. */
static void ref_matmul_int8(const qw_mat *w, const float *x, float *y, int n_tok) {
    int q8 = w->dtype == QW_DT_Q8_0, stored = q8 ? 34 : 18;
    int64_t k = w->cols, nb = k / 32, rb = qw_dtype_row_bytes(w->dtype, k);
    uint8_t *rec = malloc((size_t)qw_qx_bytes(k));
    if (!rec) abort();
    const int8_t *xq = (const int8_t *)rec;
    const float *xd = (const float *)(rec + k);
    for (int t = 0; t < n_tok; t++) {
        qw_qx_quantize(w->dtype, x + t * k, k, rec);
        for (int64_t r = 0; r < w->rows; r++) {
            const uint8_t *blk = (const uint8_t *)w->data + r * rb;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++, blk += stored) {
                int32_t sum = 0;
                for (int j = 0; j < 32; j++) {
                    int wq = q8 ? (int8_t)blk[2 + j] : (j < 16 ? blk[2 + j] & 15 : blk[2 + j - 16] >> 4) - 8;
                    sum += wq * xq[32 * b + j];
                }
                acc = fmaf(qw_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8)) * xd[b], (float)sum, acc);
            }
            y[(int64_t)t * w->rows + r] = acc;
        }
    }
    free(rec);
}

void ref_matmul(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok) {
    (void)pool;
    if (w->dtype == QW_DT_Q8_0 || w->dtype == QW_DT_Q4_0) {
        ref_matmul_int8(w, x, y, n_tok);
        return;
    }
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

void ref_rmsnorm(qw_pool *pool, float *y, const float *x, const qw_vec *gain, int n_rows, int dim, float eps) {
    (void)pool;
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

void ref_rope(qw_pool *pool, float *x, int n_tok, int n_heads, int head_dim, const int *pos, const float *inv_freq) {
    (void)pool;
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

/* Two passes in double over the visible keys: the plain softmax. */
void ref_attention(qw_pool *pool, const qw_attn_args *a) {
    (void)pool;
    int q_dim = a->n_heads * a->head_dim, group = a->n_heads / a->n_kv_heads;
    for (int t = 0; t < a->n_tok; t++) {
        int pos = a->pos[t];
        int first = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        double *p = malloc((size_t)(pos + 1) * sizeof *p);
        if (!p) abort();
        for (int h = 0; h < a->n_heads; h++) {
            const float *q = a->q + (int64_t)t * q_dim + h * a->head_dim;
            int kh = h / group;
            double mx = -INFINITY, sum = 0;
            for (int j = first; j <= pos; j++) {
                const float *k = qw_attn_key(a, a->tables[t], j, kh);
                double s = 0;
                for (int d = 0; d < a->head_dim; d++) s += (double)q[d] * k[(int64_t)d * a->block];
                p[j] = s * a->scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = first; j <= pos; j++) sum += (p[j] = exp(p[j] - mx));
            float *o = a->out + (int64_t)t * q_dim + h * a->head_dim;
            for (int d = 0; d < a->head_dim; d++) {
                double acc = 0;
                for (int j = first; j <= pos; j++) acc += p[j] * qw_attn_value(a, a->tables[t], j, kh)[d];
                o[d] = (float)(acc / sum);
            }
        }
        free(p);
    }
}

void ref_swiglu(qw_pool *pool, float *gate, const float *up, int64_t n) {
    (void)pool;
    for (int64_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void ref_embed(const qw_mat *emb, const int32_t *ids, int n, float *out) {
    for (int i = 0; i < n; i++) ref_row_to_f32(emb, ids[i], out + (int64_t)i * emb->cols);
}
