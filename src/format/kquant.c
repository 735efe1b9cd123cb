#include "format/kquant.h"
#include "format/dtype.h"
#include "format/quant.h"

#include <math.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f  /* ggml's: a group below this is all zero */

static uint16_t ld16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void st16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ggml's nearest_int: the float's mantissa after adding 1.5 * 2^23, i.e.
 * round half to even for |v| < 2^22 (and some defined value otherwise, the
 * same one ggml gets). */
static int nearest(float v) {
    float t = v + 12582912.0f;
    uint32_t u;
    memcpy(&u, &t, 4);
    return (int)(u & 0x007fffff) - 0x00400000;
}

/* Q4_K sub-block j's 6-bit scale and min from the 12 packed bytes. */
static void scale_min_k4(int j, const unsigned char *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

/* ---- dequantization ---- */

void qw_dequant_q4_k(const unsigned char *b, int64_t nblocks, float *out) {
    for (int64_t i = 0; i < nblocks; i++, b += QW_Q4_K_BYTES) {
        float d = qw_f16_to_f32(ld16(b)), dmin = qw_f16_to_f32(ld16(b + 2));
        const unsigned char *scales = b + 4, *q = b + 16;
        for (int r = 0; r < 4; r++, q += 32, out += 64) {
            int sc, m;
            scale_min_k4(2 * r, scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(2 * r + 1, scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) out[l] = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) out[32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void qw_dequant_q6_k(const unsigned char *b, int64_t nblocks, float *out) {
    for (int64_t i = 0; i < nblocks; i++, b += QW_Q6_K_BYTES) {
        const unsigned char *ql = b, *qh = b + 128, *sc = b + 192;
        float d = qw_f16_to_f32(ld16(b + 208));
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, out += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (qh[l] >> 0 & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (qh[l] >> 2 & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | (qh[l] >> 4 & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | (qh[l] >> 6 & 3) << 4) - 32;
                out[l] = d * (float)(int8_t)sc[is] * (float)q1;
                out[l + 32] = d * (float)(int8_t)sc[is + 2] * (float)q2;
                out[l + 64] = d * (float)(int8_t)sc[is + 4] * (float)q3;
                out[l + 96] = d * (float)(int8_t)sc[is + 6] * (float)q4;
            }
        }
    }
}

/* ---- Q4_K quantization (quantize_row_q4_K_ref) ---- */

/* ggml's make_qkx2_quants: x ~ scale * L - min with L in [0, nmax], min <= 0
 * folded in, chosen by weighted error over nstep + 1 trial scales around
 * nmax / (max - min). Returns the scale; *neg_min receives -min. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, float rmin,
                           float rdelta, int nstep) {
    uint8_t Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)imax(0, imin(nmax, nearest(iscale * (x[i] - min))));
        float diff = scale * (float)L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(0, imin(nmax, nearest(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D, this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * (float)Laux[i] + this_min - x[i];
            cur_error += w[i] * (diff * diff);
        }
        if (cur_error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/* Sub-block j's 6-bit scale ls and min lm into the 12 packed bytes (j in
 * increasing order: the high bits of j >= 4 go into bytes set for j - 4). */
static void pack_scale_min_k4(int j, int ls, int lm, unsigned char *q) {
    if (j < 4) {
        q[j] = (unsigned char)ls;
        q[j + 4] = (unsigned char)lm;
    } else {
        q[j + 4] = (unsigned char)((ls & 0xF) | (lm & 0xF) << 4);
        q[j - 4] |= (unsigned char)((ls >> 4) << 6);
        q[j] |= (unsigned char)((lm >> 4) << 6);
    }
}

static void quant_q4_k_block(const float *x, unsigned char *b) {
    uint8_t L[QW_QK_K];
    float w[32], mins[8], scales[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xj[l] * xj[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xj[l]);
        scales[j] = fit_scale_min(32, 15, xj, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    unsigned char *sc = b + 4, *q = b + 16;
    for (int j = 0; j < 8; j++) {  /* ggml stores nearest_int as uint8_t, then takes min(63, .) */
        int ls = imin(63, (uint8_t)nearest(inv_scale * scales[j]));
        int lm = imin(63, (uint8_t)nearest(inv_min * mins[j]));
        pack_scale_min_k4(j, ls, lm, sc);
    }
    st16(b, qw_f32_to_f16(max_scale / 63.0f));
    st16(b + 2, qw_f32_to_f16(max_min / 63.0f));
    float d_all = qw_f16_to_f32(ld16(b)), dmin_all = qw_f16_to_f32(ld16(b + 2));
    for (int j = 0; j < 8; j++) {  /* every element again, with the scales as stored */
        int s, m;
        scale_min_k4(j, sc, &s, &m);
        float d = d_all * (float)s;
        if (d == 0.0f) continue;  /* the fit's L stay */
        float dm = dmin_all * (float)m;
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)imax(0, imin(15, nearest((x[32 * j + l] + dm) / d)));
    }
    for (int r = 0; r < 4; r++)
        for (int l = 0; l < 32; l++) q[32 * r + l] = (unsigned char)(L[64 * r + l] | L[64 * r + 32 + l] << 4);
}

void qw_quant_q4_k(const float *x, int64_t nblocks, unsigned char *b) {
    for (int64_t i = 0; i < nblocks; i++) quant_q4_k_block(x + i * QW_QK_K, b + i * QW_Q4_K_BYTES);
}

/* ---- Q6_K quantization (quantize_row_q6_K_ref) ---- */

/* ggml's make_qx_quants with weights x^2 (rmse_type 1): x ~ scale * (L - 32),
 * L in [0, 63], the scale searched over -(32 + 0.1 k) / max for k in
 * -9..9, max the element of largest magnitude. */
static float fit_scale_q6(const float *x, int8_t *L) {
    enum { N = 16, NMAX = 32 };
    float amax, max = qw_signed_absmax(x, N, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, N);
        return 0.0f;
    }
    float iscale = (float)-NMAX / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < N; i++) {
        int l = imax(-NMAX, imin(NMAX - 1, nearest(iscale * x[i])));
        L[i] = (int8_t)(l + NMAX);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)NMAX + 0.1f * (float)is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < N; i++) {
            int l = imax(-NMAX, imin(NMAX - 1, nearest(iscale * x[i])));
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < N; i++) L[i] = (int8_t)(NMAX + imax(-NMAX, imin(NMAX - 1, nearest(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void quant_q6_k_block(const float *x, unsigned char *b) {
    int8_t L[QW_QK_K];
    float scales[16], max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ib++) {
        scales[ib] = fit_scale_q6(x + 16 * ib, L + 16 * ib);
        if (fabsf(scales[ib]) > max_abs_scale) {
            max_abs_scale = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(b, 0, QW_Q6_K_BYTES);
        return;
    }
    unsigned char *ql = b, *qh = b + 128, *sc = b + 192;
    float iscale = -128.0f / max_scale;
    st16(b + 208, qw_f32_to_f16(1 / iscale));
    for (int ib = 0; ib < 16; ib++) sc[ib] = (unsigned char)imin(127, nearest(iscale * scales[ib]));
    float d_all = qw_f16_to_f32(ld16(b + 208));
    for (int j = 0; j < 16; j++) {  /* every element again, with the scales as stored */
        float d = d_all * (float)(int8_t)sc[j];
        if (d == 0.0f) continue;  /* the fit's L stay */
        for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(32 + imax(-32, imin(31, nearest(x[16 * j + l] / d))));
    }
    for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
        const int8_t *Lh = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (unsigned char)((Lh[l] & 0xF) | (Lh[l + 64] & 0xF) << 4);
            ql[l + 32] = (unsigned char)((Lh[l + 32] & 0xF) | (Lh[l + 96] & 0xF) << 4);
            qh[l] = (unsigned char)(Lh[l] >> 4 | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                                    (Lh[l + 96] >> 4) << 6);
        }
    }
}

void qw_quant_q6_k(const float *x, int64_t nblocks, unsigned char *b) {
    for (int64_t i = 0; i < nblocks; i++) quant_q6_k_block(x + i * QW_QK_K, b + i * QW_Q6_K_BYTES);
}
