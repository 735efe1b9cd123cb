#include "kernels/cpu/qtile.h"
#include "kernels/cpu/cpu_features.h"
#include "format/dtype.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define QW_X86 1
#endif

#define INLINE static inline __attribute__((always_inline))




/* ---- packed weights ---- */

enum { Q8_CHUNKS = 8, Q4_CHUNKS = 4, CHUNK = 64 };

/* Blocks go in pairs: the pair's quants (QB bytes a block), then its 2 x 16
 * scales in one 64-byte line, so a group is read front to back. */
#define QUANTS_AT(QB, b) (((b) >> 1) * (2 * (QB) + 64) + ((b) & 1) * (QB))
#define SCALES_AT(QB, b) (((b) >> 1) * (2 * (QB) + 64) + 2 * (QB) + ((b) & 1) * 2 * QW_QGROUP)

static int quant_bytes(qw_dtype t) { return (t == QW_DT_Q8_0 ? Q8_CHUNKS : Q4_CHUNKS) * CHUNK; }

int64_t qw_qpack_group_bytes(qw_dtype t, int64_t cols) {
    return (cols / 32 + 1) / 2 * (2 * quant_bytes(t) + 64);
}

int64_t qw_qpack_bytes(const qw_mat *w) {
    return (w->rows + QW_QGROUP - 1) / QW_QGROUP * qw_qpack_group_bytes(w->dtype, w->cols);
}

void qw_qpack_group(const qw_mat *w, int64_t g, uint8_t *dst) {
    int q8 = w->dtype == QW_DT_Q8_0, qb = quant_bytes(w->dtype), stored = q8 ? 34 : 18;
    int64_t nb = w->cols / 32, rb = qw_dtype_row_bytes(w->dtype, w->cols);
    if ((g + 1) * QW_QGROUP > w->rows || nb % 2)  /* padding: rows past the matrix, an odd block's partner */
        memset(dst, 0, (size_t)qw_qpack_group_bytes(w->dtype, w->cols));
    for (int r = 0; r < QW_QGROUP && g * QW_QGROUP + r < w->rows; r++) {
        const uint8_t *blk = (const uint8_t *)w->data + (g * QW_QGROUP + r) * rb;
        for (int64_t b = 0; b < nb; b++, blk += stored) {
            uint8_t *out = dst + QUANTS_AT(qb, b) + 4 * r;
            for (int s = 0; s < qb / CHUNK; s++) {
                uint32_t v;
                memcpy(&v, blk + 2 + 4 * s, 4);
                if (q8) v ^= 0x80808080u;  /* int8 q as the unsigned byte q + 128 */
                memcpy(out + s * CHUNK, &v, 4);
            }
            uint16_t d = (uint16_t)(blk[0] | blk[1] << 8);
            memcpy(dst + SCALES_AT(qb, b) + 2 * r, &d, 2);
        }
    }
}

/* ---- quantized activations ---- */

int64_t qw_qx_bytes(int64_t k) { return k + k / 32 * 8; }

typedef struct {
    int8_t *q;
    float *d;
    int32_t *bias;
    int32_t off;  /* what the unsigned weights add per unit of the quants' sum */
} qx_rec;

static qx_rec qx_layout(qw_dtype wt, int64_t k, uint8_t *rec) {
    return (qx_rec){(int8_t *)rec, (float *)(rec + k), (int32_t *)(rec + k + k / 32 * 4), wt == QW_DT_Q8_0 ? 128 : 8};
}

/* A block's scale from its largest magnitude, and the factor that
 * quantizes: 0 when amax is 0 (or so small that 1/d overflows) or a NaN
 * makes d NaN (which then carries into every output of the token). */
static float block_scale(float amax, int nan, float *id) {
    float d = nan ? NAN : amax / 127.0f;
    *id = 1.0f / d;
    if (!(*id <= 0x1.fffffep127f)) *id = 0.0f;
    return d;
}

/* v rounded to nearest even and kept in [-127, 127]: adding and taking away
 * 1.5 * 2^23 leaves an integer for |v| < 2^22; a NaN becomes 0. The SIMD
 * quantizers below do these very operations, so they give the same bytes. */
#define ROUNDER 0x1.8p23f
static float round_q(float v) {
    float r = (v + ROUNDER) - ROUNDER;
    if (r > 127.0f) return 127.0f;
    if (r < -127.0f) return -127.0f;
    return r == r ? r : 0.0f;
}

void qw_qx_quantize(qw_dtype wt, const float *x, int64_t k, uint8_t *rec) {
    qx_rec r = qx_layout(wt, k, rec);
    for (int64_t b = 0; b < k / 32; b++, x += 32) {
        float amax = 0.0f, id;
        int nan = 0;
        for (int j = 0; j < 32; j++) {
            float v = fabsf(x[j]);
            amax = v > amax ? v : amax;
            nan |= v != v;
        }
        r.d[b] = block_scale(amax, nan, &id);
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) sum += r.q[32 * b + j] = (int8_t)round_q(x[j] * id);
        r.bias[b] = -r.off * sum;
    }
}

/* ---- micro-kernels ----
 *
 * Every variant is the one shape below, written with its own few
 * primitives over vectors of LANES rows:
 *   vw ld(p)                 a chunk's 4 * LANES bytes
 *   vw lo(c), hi(c)          Q4_0: the low / high nibbles
 *   vw prep_q8(c)            Q8_0: the chunk as the dot product wants it
 *   vi init_q8/q4(bias)      the int32 lanes a block's sums start from
 *   vi dot_q8/q4(a, c, x4)   a + per lane the sum of 4 weight bytes times
 *                            the 4 activation bytes at x4
 *   vf scales(h)             LANES f16 scales as float
 *   vf step(acc, sc, dx, s)  fma(sc * dx, (float)s, acc)
 *   store(y, v)
 * and NT, the most tokens its registers hold. */

#define Q8_BYTES (Q8_CHUNKS * CHUNK) /* quant bytes of a block of a group */
#define Q4_BYTES (Q4_CHUNKS * CHUNK)
#define q8_CHUNKS Q8_CHUNKS
#define q4_CHUNKS Q4_CHUNKS
#define q8_BYTES Q8_BYTES
#define q4_BYTES Q4_BYTES

/* One chunk's products into every token's accumulators: a Q8_0 chunk holds
 * elements 4s..4s+3 of each row, a Q4_0 chunk also 16+4s.. in its high nibbles. */
#define q8_STEP(ISA)                                                                      \
    c = ISA##_prep_q8(c);                                                                 \
    for (int t = 0; t < NT; t++) ia[t][h] = ISA##_dot_q8(ia[t][h], c, xq[t] + 32 * b + 4 * s);
#define q4_STEP(ISA)                                                                      \
    ISA##_vw lo = ISA##_lo(c), hi = ISA##_hi(c);                                          \
    for (int t = 0; t < NT; t++) {                                                        \
        ia[t][h] = ISA##_dot_q4(ia[t][h], lo, xq[t] + 32 * b + 4 * s);                    \
        ia[t][h] = ISA##_dot_q4(ia[t][h], hi, xq[t] + 32 * b + 16 + 4 * s);              \
    }

/* The hardware prefetcher alone leaves a core well short of the memory's
 * bandwidth once several tokens share each weight line (the loads then sit
 * behind many dot products): ask for the weights of the block PREFETCH_BLOCKS
 * ahead (a group is one run of bytes, QB + 32 a block, and the next group
 * follows it). */
#define PREFETCH_BLOCKS 8
#define PREFETCH_AHEAD(W, QB, B)                                                       \
    for (int i = 0; i < (QB) + 32; i += 64) __builtin_prefetch((W) + ((B) + PREFETCH_BLOCKS) * ((QB) + 32) + i);

/* A group of 16 rows (H vectors) times NT_ tokens. */
#define QKERNEL(ISA, QT, NT_)                                                                     \
    ISA##_TARGET static void ISA##_##QT##_##NT_(const uint8_t *w, int64_t nb, const uint8_t *x,   \
                                                int64_t ldx, float *y, int64_t ldy, int nr) {    \
        enum { NT = NT_, L = ISA##_LANES, H = QW_QGROUP / ISA##_LANES };                          \
        const int8_t *xq[NT];                                                                     \
        const float *xd[NT];                                                                      \
        const int32_t *xb[NT];                                                                    \
        ISA##_vf acc[NT][H];                                                                      \
        for (int t = 0; t < NT; t++) {                                                            \
            xq[t] = (const int8_t *)(x + t * ldx);                                                \
            xd[t] = (const float *)(x + t * ldx + 32 * nb);                                       \
            xb[t] = (const int32_t *)(x + t * ldx + 36 * nb);                                     \
            for (int h = 0; h < H; h++) acc[t][h] = ISA##_zero();                                 \
        }                                                                                         \
        for (int64_t b = 0; b < nb; b++) {                                                        \
            const uint8_t *wb = w + QUANTS_AT(QT##_BYTES, b);                                     \
            PREFETCH_AHEAD(w, QT##_BYTES, b)                                                      \
            ISA##_vi ia[NT][H];                                                                   \
            for (int t = 0; t < NT; t++)                                                          \
                for (int h = 0; h < H; h++) ia[t][h] = ISA##_init_##QT(xb[t][b]);                 \
            for (int s = 0; s < QT##_CHUNKS; s++)                                                 \
                for (int h = 0; h < H; h++) {                                                     \
                    ISA##_vw c = ISA##_ld(wb + s * CHUNK + h * 4 * L);                            \
                    QT##_STEP(ISA)                                                                \
                }                                                                                 \
            for (int h = 0; h < H; h++) {                                                         \
                ISA##_vf sc = ISA##_scales((const uint16_t *)(w + SCALES_AT(QT##_BYTES, b)) + h * L); \
                for (int t = 0; t < NT; t++) acc[t][h] = ISA##_step(acc[t][h], sc, xd[t][b], ia[t][h]); \
            }                                                                                     \
        }                                                                                         \
        for (int t = 0; t < NT; t++) {                                                            \
            float part[QW_QGROUP], *dst = nr == QW_QGROUP ? y + t * ldy : part;                   \
            for (int h = 0; h < H; h++) ISA##_store(dst + h * L, acc[t][h]);                      \
            if (dst == part) memcpy(y + t * ldy, part, (size_t)nr * sizeof *part);                \
        }                                                                                         \
    }

typedef void (*tile_fn)(const uint8_t *w, int64_t nb, const uint8_t *x, int64_t ldx, float *y, int64_t ldy,
                        int nr);

#define TILE_NAME(ISA, QT, NT) ISA##_##QT##_##NT,
#define NTS_1(X, ISA, QT) X(ISA, QT, 1)
#define NTS_2(X, ISA, QT) X(ISA, QT, 1) X(ISA, QT, 2)
#define NTS_8(X, ISA, QT) \
    X(ISA, QT, 1) X(ISA, QT, 2) X(ISA, QT, 3) X(ISA, QT, 4) X(ISA, QT, 5) X(ISA, QT, 6) X(ISA, QT, 7) X(ISA, QT, 8)

/* Any number of tokens, in register tiles of up to the variant's NT. */
#define QDISPATCH(ISA, QT)                                                                        \
    static const tile_fn ISA##_##QT##_tiles[] = {ISA##_NTS(TILE_NAME, ISA, QT)};                  \
    static void ISA##_##QT(const uint8_t *w, int64_t nb, const uint8_t *x, int64_t ldx, int nt, float *y, \
                           int64_t ldy, int nr) {                                                 \
        enum { NT = sizeof ISA##_##QT##_tiles / sizeof ISA##_##QT##_tiles[0] };                   \
        for (int t = 0; t < nt; t += NT) {                                                        \
            int n = nt - t < NT ? nt - t : NT;                                                    \
            ISA##_##QT##_tiles[n - 1](w, nb, x + t * ldx, ldx, y + t * ldy, ldy, nr);             \
        }                                                                                         \
    }

#define VARIANT(ISA, NAME)                                                                        \
    ISA##_NTS(QKERNEL, ISA, q8)                                                                   \
    ISA##_NTS(QKERNEL, ISA, q4)                                                                   \
    QDISPATCH(ISA, q8)                                                                            \
    QDISPATCH(ISA, q4)                                                                            \
    static const qw_qtile_kernels ISA##_kernels = {NAME, ISA##_q8, ISA##_q4, ISA##_quantize};

/* ---- portable C: 16 lanes in arrays ---- */

typedef struct { uint8_t b[CHUNK]; } p_vw;
typedef struct { int32_t v[QW_QGROUP]; } p_vi;
typedef struct { float v[QW_QGROUP]; } p_vf;
#define p_TARGET
#define p_LANES 16
#define p_NTS NTS_1
#define p_quantize qw_qx_quantize

INLINE p_vw p_ld(const uint8_t *p) {
    p_vw c;
    memcpy(c.b, p, CHUNK);
    return c;
}
INLINE p_vw p_lo(p_vw c) {
    for (int i = 0; i < CHUNK; i++) c.b[i] &= 15;
    return c;
}
INLINE p_vw p_hi(p_vw c) {
    for (int i = 0; i < CHUNK; i++) c.b[i] >>= 4;
    return c;
}
INLINE p_vw p_prep_q8(p_vw c) { return c; }
INLINE p_vi p_init_q8(int32_t bias) {
    p_vi a;
    for (int l = 0; l < QW_QGROUP; l++) a.v[l] = bias;
    return a;
}
#define p_init_q4 p_init_q8
INLINE p_vi p_dot_q8(p_vi a, p_vw c, const int8_t *x4) {
    for (int l = 0; l < QW_QGROUP; l++)
        for (int j = 0; j < 4; j++) a.v[l] += c.b[4 * l + j] * x4[j];
    return a;
}
#define p_dot_q4 p_dot_q8
INLINE p_vf p_scales(const uint16_t *h) {
    p_vf s;
    for (int l = 0; l < QW_QGROUP; l++) s.v[l] = qw_f16_to_f32(h[l]);
    return s;
}
INLINE p_vf p_zero(void) {
    p_vf z;
    memset(&z, 0, sizeof z);
    return z;
}
INLINE p_vf p_step(p_vf acc, p_vf sc, float dx, p_vi s) {
    for (int l = 0; l < QW_QGROUP; l++) acc.v[l] = fmaf(sc.v[l] * dx, (float)s.v[l], acc.v[l]);
    return acc;
}
INLINE void p_store(float *y, p_vf v) { memcpy(y, v.v, sizeof v.v); }

VARIANT(p, "portable")

#ifdef QW_X86
/* ---- AVX-512 VNNI: a group is one vector; dpbusd with the activations'
 * 4 bytes broadcast from memory ---- */

typedef __m512i z_vw;
typedef __m512i z_vi;
typedef __m512 z_vf;
#define z_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define z_LANES 16
#define z_NTS NTS_8
#define TZ z_TARGET INLINE

TZ __m512i z_ld(const uint8_t *p) { return _mm512_loadu_si512(p); }
TZ __m512i z_lo(__m512i c) { return _mm512_and_si512(c, _mm512_set1_epi8(15)); }
TZ __m512i z_hi(__m512i c) { return _mm512_and_si512(_mm512_srli_epi16(c, 4), _mm512_set1_epi8(15)); }
TZ __m512i z_prep_q8(__m512i c) { return c; }
TZ __m512i z_init_q8(int32_t bias) { return _mm512_set1_epi32(bias); }
#define z_init_q4 z_init_q8
TZ __m512i z_dot_q8(__m512i a, __m512i c, const int8_t *x4) {
    int32_t v;
    memcpy(&v, x4, 4);
    return _mm512_dpbusd_epi32(a, c, _mm512_set1_epi32(v));
}
#define z_dot_q4 z_dot_q8
TZ __m512 z_scales(const uint16_t *h) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h)); }
TZ __m512 z_zero(void) { return _mm512_setzero_ps(); }
TZ __m512 z_step(__m512 acc, __m512 sc, float dx, __m512i s) {
    return _mm512_fmadd_ps(_mm512_mul_ps(sc, _mm512_set1_ps(dx)), _mm512_cvtepi32_ps(s), acc);
}
TZ void z_store(float *y, __m512 v) { _mm512_storeu_ps(y, v); }

TZ __m512i z_round(__m512 v) {
    __m512 r = _mm512_sub_ps(_mm512_add_ps(v, _mm512_set1_ps(ROUNDER)), _mm512_set1_ps(ROUNDER));
    r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r);
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f)));
}

z_TARGET static void z_quantize(qw_dtype wt, const float *x, int64_t k, uint8_t *rec) {
    qx_rec r = qx_layout(wt, k, rec);
    for (int64_t b = 0; b < k / 32; b++, x += 32) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        int nan = (_mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q)) != 0;
        float id, amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        r.d[b] = block_scale(amax, nan, &id);
        __m512i q0 = z_round(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
        __m512i q1 = z_round(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
        _mm_storeu_si128((__m128i *)(r.q + 32 * b), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(r.q + 32 * b + 16), _mm512_cvtepi32_epi8(q1));
        r.bias[b] = -r.off * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

VARIANT(z, "avx512-vnni")

/* ---- AVX2: a group is two vectors of 8 rows. Without VNNI, maddubs adds
 * pairs of u8 x s8 products in int16, which q + 128 (up to 255) times 127
 * would saturate; so Q8_0 takes the sign trick instead (|w| times x with
 * w's sign, at most 2 * 128 * 127) on the signed quants, whose sums need
 * no bias. Nibbles (at most 15) are safe as they are. ---- */

typedef __m256i y_vw;
typedef __m256i y_vi;
typedef __m256 y_vf;
#define y_TARGET __attribute__((target("avx2,fma,f16c")))
#define y_LANES 8
#define y_NTS NTS_2
#define TY y_TARGET INLINE

TY __m256i y_ld(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
TY __m256i y_lo(__m256i c) { return _mm256_and_si256(c, _mm256_set1_epi8(15)); }
TY __m256i y_hi(__m256i c) { return _mm256_and_si256(_mm256_srli_epi16(c, 4), _mm256_set1_epi8(15)); }
TY __m256i y_prep_q8(__m256i c) { return _mm256_xor_si256(c, _mm256_set1_epi8((char)0x80)); }
TY __m256i y_init_q8(int32_t bias) {
    (void)bias;
    return _mm256_setzero_si256();
}
TY __m256i y_init_q4(int32_t bias) { return _mm256_set1_epi32(bias); }
TY __m256i y_x4(const int8_t *x4) {
    int32_t v;
    memcpy(&v, x4, 4);
    return _mm256_set1_epi32(v);
}
TY __m256i y_madd(__m256i a, __m256i u, __m256i s) {
    return _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
TY __m256i y_dot_q8(__m256i a, __m256i w, const int8_t *x4) {
    return y_madd(a, _mm256_abs_epi8(w), _mm256_sign_epi8(y_x4(x4), w));
}
TY __m256i y_dot_q4(__m256i a, __m256i c, const int8_t *x4) { return y_madd(a, c, y_x4(x4)); }
TY __m256 y_scales(const uint16_t *h) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)); }
TY __m256 y_zero(void) { return _mm256_setzero_ps(); }
TY __m256 y_step(__m256 acc, __m256 sc, float dx, __m256i s) {
    return _mm256_fmadd_ps(_mm256_mul_ps(sc, _mm256_set1_ps(dx)), _mm256_cvtepi32_ps(s), acc);
}
TY void y_store(float *y, __m256 v) { _mm256_storeu_ps(y, v); }

TY __m256i y_round(__m256 v) {
    __m256 r = _mm256_sub_ps(_mm256_add_ps(v, _mm256_set1_ps(ROUNDER)), _mm256_set1_ps(ROUNDER));
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f)));
}

y_TARGET static void y_quantize(qw_dtype wt, const float *x, int64_t k, uint8_t *rec) {
    qx_rec r = qx_layout(wt, k, rec);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < k / 32; b++, x += 32) {
        __m256 v[4], m = _mm256_setzero_ps();
        int nan = 0;
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
            nan |= _mm256_movemask_ps(_mm256_cmp_ps(v[i], v[i], _CMP_UNORD_Q));
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float id;
        r.d[b] = block_scale(_mm_cvtss_f32(h), nan != 0, &id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) q[i] = y_round(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
        /* packs work within 128-bit lanes: put the 8 groups of 4 back in order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(r.q + 32 * b), p);
        __m256i s4 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        r.bias[b] = -r.off * _mm_cvtsi128_si32(s);
    }
}

VARIANT(y, "avx2")

/* AVX-VNNI (VEX-encoded dpbusd on 256 bits): the AVX2 shape with the
 * unsigned Q8_0 bytes and their bias, as in AVX-512. */
typedef __m256i yv_vw;
typedef __m256i yv_vi;
typedef __m256 yv_vf;
#define yv_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#define yv_LANES 8
#define yv_NTS NTS_2
#define TYV yv_TARGET INLINE
#define yv_ld y_ld
#define yv_lo y_lo
#define yv_hi y_hi
#define yv_init_q8 y_init_q4
#define yv_init_q4 y_init_q4
#define yv_scales y_scales
#define yv_zero y_zero
#define yv_step y_step
#define yv_store y_store
#define yv_quantize y_quantize

TYV __m256i yv_prep_q8(__m256i c) { return c; }
TYV __m256i yv_dot_q8(__m256i a, __m256i c, const int8_t *x4) { return _mm256_dpbusd_avx_epi32(a, c, y_x4(x4)); }
#define yv_dot_q4 yv_dot_q8

VARIANT(yv, "avx2-vnni")
#endif

int qw_qtile_all(const qw_qtile_kernels **out) {
    int n = 0;
#ifdef QW_X86
    const qw_cpu_features *f = qw_cpu_features_get();
    if (f->avx512_vnni) out[n++] = &z_kernels;
    if (f->avx_vnni) out[n++] = &yv_kernels;
    if (f->avx2_fma_f16c) out[n++] = &y_kernels;
#endif
    out[n++] = &p_kernels;
    return n;
}

const qw_qtile_kernels *qw_qtile_best(void) {
    const qw_qtile_kernels *all[QW_QTILE_VARIANTS];
    qw_qtile_all(all);
    return all[0];
}
