#include "model/synthetic.h"
#include "base/err.h"
#include "format/quant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The shapes, copied from the published config.json files (by way of
 * ../shared/model-shapes.json). Compiled in rather than read from a data file
 * so that `qwenc bench --synthetic` works from a lone binary, installed or in
 * a build tree, with nothing to find or parse; released shapes never change.
 * The tiny ones are for tests: every feature of their architecture at a
 * size that builds in microseconds. */
typedef struct {
    const char *name;
    qw_arch arch;
    int vocab, hidden, inter, layers, heads, kv_heads, head_dim, tied, max_pos;
    int experts, experts_per_tok, moe_inter;  /* qwen3_moe */
} shape;

static const shape shapes[] = {
    {"qwen3-0.6b", QW_ARCH_QWEN3, 151936, 1024, 3072, 28, 16, 8, 128, 1, 40960, 0, 0, 0},
    {"qwen3-1.7b", QW_ARCH_QWEN3, 151936, 2048, 6144, 28, 16, 8, 128, 1, 40960, 0, 0, 0},
    {"qwen3-4b", QW_ARCH_QWEN3, 151936, 2560, 9728, 36, 32, 8, 128, 1, 40960, 0, 0, 0},
    {"qwen3-8b", QW_ARCH_QWEN3, 151936, 4096, 12288, 36, 32, 8, 128, 0, 40960, 0, 0, 0},
    {"qwen3-14b", QW_ARCH_QWEN3, 151936, 5120, 17408, 40, 40, 8, 128, 0, 40960, 0, 0, 0},
    {"qwen3-30b-a3b", QW_ARCH_QWEN3_MOE, 151936, 2048, 6144, 48, 32, 4, 128, 0, 40960, 128, 8, 768},
    {"qwen2.5-0.5b", QW_ARCH_QWEN2, 151936, 896, 4864, 24, 14, 2, 64, 1, 32768, 0, 0, 0},
    {"qwen2.5-7b", QW_ARCH_QWEN2, 152064, 3584, 18944, 28, 28, 4, 128, 0, 32768, 0, 0, 0},
    {"tiny-qwen3", QW_ARCH_QWEN3, 512, 64, 128, 2, 4, 2, 16, 1, 4096, 0, 0, 0},
    {"tiny-qwen3-moe", QW_ARCH_QWEN3_MOE, 512, 64, 128, 2, 4, 2, 16, 0, 4096, 8, 2, 64},
    {"tiny-qwen2", QW_ARCH_QWEN2, 512, 64, 128, 2, 4, 2, 16, 0, 4096, 0, 0, 0},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static const char *const arch_names[] = {[QW_ARCH_QWEN2] = "qwen2", [QW_ARCH_QWEN3] = "qwen3",
                                         [QW_ARCH_QWEN3_MOE] = "qwen3_moe"};

int qw_synthetic_config(const char *name, qw_config *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    const shape *s = NULL;
    for (int i = 0; i < N_SHAPES && !s; i++)
        if (!strcmp(shapes[i].name, name)) s = &shapes[i];
    if (!s) {
        char known[512] = "";
        for (int i = 0; i < N_SHAPES; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", shapes[i].name);
        return qw_errf(err, errlen, QWENC_EINVAL, "unknown synthetic model shape '%s' (known: %s)", name, known);
    }
    c->arch = s->arch;
    c->arch_name = arch_names[s->arch];
    c->vocab_size = s->vocab;
    c->hidden_size = s->hidden;
    c->intermediate_size = s->inter;
    c->n_layers = s->layers;
    c->n_heads = s->heads;
    c->n_kv_heads = s->kv_heads;
    c->head_dim = s->head_dim;
    c->max_position_embeddings = s->max_pos;
    c->rope_theta = 1000000.0;  /* every shape in the table */
    c->rms_norm_eps = 1e-6;
    c->tie_word_embeddings = s->tied;
    c->attention_bias = s->arch == QW_ARCH_QWEN2;
    c->qk_norm = s->arch != QW_ARCH_QWEN2;
    c->n_experts = s->experts;
    c->n_experts_per_tok = s->experts_per_tok;
    c->moe_intermediate_size = s->moe_inter;
    c->norm_topk_prob = 1;
    c->decoder_sparse_step = 1;
    c->bos_id = c->eos_id = -1;
    snprintf(c->dtype, sizeof c->dtype, "random");
    qw_config_default_generation(c);
    c->mlp_only = calloc((size_t)c->n_layers, 1);  /* no dense layers among the MoE ones */
    if (!c->mlp_only) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    return 0;
}

int qw_synthetic_dtype(const char *name, qw_dtype *out, char *err, size_t errlen) {
    static const qw_dtype ok[] = {QW_DT_F32, QW_DT_BF16, QW_DT_Q8_0, QW_DT_Q4_0};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(qw_dtype_name(ok[i]), name)) return *out = ok[i], 0;
    return qw_errf(err, errlen, QWENC_EINVAL, "unknown synthetic weight type '%s' (f32, bf16, q8_0 or q4_0)",
                   name);
}

/* ---- the list of tensors ---- */

#define ALIGN 64  /* tensor data starts on a cache line, as the kernels like */

typedef struct {
    qw_checkpoint *ck;
    int cap;
    size_t total;  /* bytes so far, each tensor aligned */
} builder;

static int add(builder *b, qw_dtype dt, int64_t rows, int64_t cols, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* One tensor [rows][cols], or [rows] when cols is 0; its data is placed later. */
static int add(builder *b, qw_dtype dt, int64_t rows, int64_t cols, const char *fmt, ...) {
    qw_checkpoint *ck = b->ck;
    if (ck->n_tensors == b->cap) {
        int cap = b->cap ? 2 * b->cap : 256;
        qw_st_tensor *nt = realloc(ck->tensors, (size_t)cap * sizeof *nt);
        if (!nt) return QWENC_ENOMEM;
        ck->tensors = nt;
        b->cap = cap;
    }
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    qw_st_tensor *t = &ck->tensors[ck->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return QWENC_ENOMEM;
    ck->n_tensors++;
    t->dtype = dt;
    t->rank = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->nbytes = (size_t)(cols ? rows * qw_dtype_row_bytes(dt, cols) : qw_dtype_row_bytes(dt, rows));
    t->data = (const void *)(uintptr_t)b->total;  /* an offset until the mapping exists */
    b->total += (t->nbytes + ALIGN - 1) / ALIGN * ALIGN;
    return 0;
}

static int add_mlp(builder *b, qw_dtype dt, int hidden, int inter, const char *prefix) {
    int rc;
    if ((rc = add(b, dt, inter, hidden, "%s.gate_proj.weight", prefix))) return rc;
    if ((rc = add(b, dt, inter, hidden, "%s.up_proj.weight", prefix))) return rc;
    return add(b, dt, hidden, inter, "%s.down_proj.weight", prefix);
}

static int add_layer(builder *b, const qw_config *c, qw_dtype dt, int i) {
    int h = c->hidden_size, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim, rc = 0;
    const char *p = "model.layers";
    char mlp[64];
    if (!rc) rc = add(b, QW_DT_F32, h, 0, "%s.%d.input_layernorm.weight", p, i);
    if (!rc) rc = add(b, QW_DT_F32, h, 0, "%s.%d.post_attention_layernorm.weight", p, i);
    if (!rc) rc = add(b, dt, qd, h, "%s.%d.self_attn.q_proj.weight", p, i);
    if (!rc) rc = add(b, dt, kvd, h, "%s.%d.self_attn.k_proj.weight", p, i);
    if (!rc) rc = add(b, dt, kvd, h, "%s.%d.self_attn.v_proj.weight", p, i);
    if (!rc) rc = add(b, dt, h, qd, "%s.%d.self_attn.o_proj.weight", p, i);
    if (!rc && c->attention_bias) {
        rc = add(b, QW_DT_F32, qd, 0, "%s.%d.self_attn.q_proj.bias", p, i);
        if (!rc) rc = add(b, QW_DT_F32, kvd, 0, "%s.%d.self_attn.k_proj.bias", p, i);
        if (!rc) rc = add(b, QW_DT_F32, kvd, 0, "%s.%d.self_attn.v_proj.bias", p, i);
        if (!rc && c->arch != QW_ARCH_QWEN2) rc = add(b, QW_DT_F32, h, 0, "%s.%d.self_attn.o_proj.bias", p, i);
    }
    if (!rc && c->qk_norm) {
        rc = add(b, QW_DT_F32, c->head_dim, 0, "%s.%d.self_attn.q_norm.weight", p, i);
        if (!rc) rc = add(b, QW_DT_F32, c->head_dim, 0, "%s.%d.self_attn.k_norm.weight", p, i);
    }
    if (rc || !qw_config_layer_is_moe(c, i)) {
        snprintf(mlp, sizeof mlp, "%s.%d.mlp", p, i);
        return rc ? rc : add_mlp(b, dt, h, c->intermediate_size, mlp);
    }
    if ((rc = add(b, QW_DT_F32, c->n_experts, h, "%s.%d.mlp.gate.weight", p, i))) return rc;
    for (int e = 0; e < c->n_experts && !rc; e++) {
        snprintf(mlp, sizeof mlp, "%s.%d.mlp.experts.%d", p, i, e);
        rc = add_mlp(b, dt, h, c->moe_intermediate_size, mlp);
    }
    return rc;
}

static int add_all(builder *b, const qw_config *c, qw_dtype dt) {
    int rc = add(b, dt, c->vocab_size, c->hidden_size, "model.embed_tokens.weight");
    if (!rc) rc = add(b, QW_DT_F32, c->hidden_size, 0, "model.norm.weight");
    if (!rc && !c->tie_word_embeddings) rc = add(b, dt, c->vocab_size, c->hidden_size, "lm_head.weight");
    for (int i = 0; i < c->n_layers && !rc; i++) rc = add_layer(b, c, dt, i);
    return rc;
}

/* ---- random contents ---- */

/* splitmix64: one multiply-xorshift step per 64 random bits. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t next64(uint64_t *state) { return mix64(*state += 0x9e3779b97f4a7c15ull); }

/* About N(0, 0.02): the sum of four 16-bit uniforms (Irwin-Hall), centred and
 * scaled; one random word per value keeps filling a 30B model in seconds. */
static float normal_002(uint64_t r) {
    uint32_t s = (uint32_t)(r & 0xffff) + (uint32_t)(r >> 16 & 0xffff) + (uint32_t)(r >> 32 & 0xffff) +
                 (uint32_t)(r >> 48);
    return ((float)s - 131070.0f) * (0.02f / 37837.6f);  /* mean 4 * 32767.5, sd 2 * 65536 / sqrt(12) */
}

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16);  /* round to nearest even (no NaN here) */
}

/* A positive f16 in [2^e, 1.5 * 2^e): a block scale of random mantissa. */
static uint16_t f16_scale(int e, uint64_t r) {
    return (uint16_t)((e + 15) << 10 | (r & 511));
}

/* Q8_0: quants uniform in [-127, 127] (sd 73.6, as a quantizer's output
 * spans) under scales in [2^-12, 1.5 * 2^-12): element sd about 0.022. */
static void fill_q8_0(unsigned char *b, int64_t nblocks, uint64_t *st) {
    for (int64_t i = 0; i < nblocks; i++, b += 2 + QW_QK8_0) {
        uint16_t d = f16_scale(-12, next64(st));
        b[0] = (unsigned char)d, b[1] = (unsigned char)(d >> 8);
        for (int j = 0; j < QW_QK8_0; j += 8) {
            uint64_t r = next64(st);
            for (int k = 0; k < 8; k++)  /* a byte 0..255 onto -127..127 */
                b[2 + j + k] = (unsigned char)(int8_t)((int)((r >> 8 * k & 255) * 255 >> 8) - 127);
        }
    }
}

/* Q4_0: nibbles uniform in [0, 15] (value nibble - 8, sd 4.6) under scales
 * in [2^-8, 1.5 * 2^-8): element sd about 0.022. */
static void fill_q4_0(unsigned char *b, int64_t nblocks, uint64_t *st) {
    for (int64_t i = 0; i < nblocks; i++, b += 2 + QW_QK4_0 / 2) {
        uint16_t d = f16_scale(-8, next64(st));
        b[0] = (unsigned char)d, b[1] = (unsigned char)(d >> 8);
        uint64_t r0 = next64(st), r1 = next64(st);
        memcpy(b + 2, &r0, 8);
        memcpy(b + 10, &r1, 8);
    }
}

/* Work is cut into chunks of elements (whole blocks) so that threads share
 * big tensors; each chunk's random stream starts from (seed, tensor name,
 * chunk), so the contents do not depend on the thread count. */
#define CHUNK ((int64_t)1 << 18)

typedef struct {
    int tensor;
    int64_t first, n;  /* elements */
} chunk;

typedef struct {
    const qw_checkpoint *ck;
    unsigned char *base;
    const chunk *chunks;
    uint64_t seed;
} fill_job;

static uint64_t name_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;  /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int is_norm(const qw_st_tensor *t) {
    size_t n = strlen(t->name);
    return t->rank == 1 && !(n > 5 && !strcmp(t->name + n - 5, ".bias"));
}

static void fill_task(void *ctx, int task, int thread) {
    (void)thread;
    const fill_job *j = ctx;
    const chunk *c = &j->chunks[task];
    const qw_st_tensor *t = &j->ck->tensors[c->tensor];
    unsigned char *p = j->base + ((const unsigned char *)t->data - j->base);  /* writable: the mapping is ours */
    uint64_t st = mix64(mix64(j->seed ^ name_hash(t->name)) + (uint64_t)c->first);
    int64_t end = c->first + c->n;
    switch (t->dtype) {
    case QW_DT_Q8_0: fill_q8_0(p + c->first / QW_QK8_0 * (2 + QW_QK8_0), c->n / QW_QK8_0, &st); break;
    case QW_DT_Q4_0: fill_q4_0(p + c->first / QW_QK4_0 * (2 + QW_QK4_0 / 2), c->n / QW_QK4_0, &st); break;
    case QW_DT_BF16:
        for (int64_t i = c->first; i < end; i++) ((uint16_t *)p)[i] = f32_to_bf16(normal_002(next64(&st)));
        break;
    default:  /* f32 */
        if (is_norm(t))
            for (int64_t i = c->first; i < end; i++) ((float *)p)[i] = 1.0f;
        else
            for (int64_t i = c->first; i < end; i++) ((float *)p)[i] = normal_002(next64(&st));
    }
}

static int64_t n_elements(const qw_st_tensor *t) {
    return t->rank == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
}

static int fill(qw_checkpoint *ck, unsigned char *base, uint64_t seed, qw_pool *pool) {
    int64_t n = 0;
    for (int i = 0; i < ck->n_tensors; i++) n += (n_elements(&ck->tensors[i]) + CHUNK - 1) / CHUNK;
    chunk *chunks = malloc((size_t)n * sizeof *chunks);
    if (!chunks) return QWENC_ENOMEM;
    int64_t k = 0;
    for (int i = 0; i < ck->n_tensors; i++)
        for (int64_t e = 0, total = n_elements(&ck->tensors[i]); e < total; e += CHUNK)
            chunks[k++] = (chunk){i, e, total - e < CHUNK ? total - e : CHUNK};
    fill_job j = {ck, base, chunks, seed};
    qw_pool_run(pool, fill_task, &j, (int)n);
    free(chunks);
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const qw_st_tensor *)a)->name, ((const qw_st_tensor *)b)->name);
}

/* Refuses, with the sizes, what would only end in the out-of-memory killer. */
static int check_memory(size_t total, const char *name, char *err, size_t errlen) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double have = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    if (have > 0 && (double)total > have)
        return qw_errf(err, errlen, QWENC_ENOMEM, "synthetic %s: needs %.1f GiB of memory, the machine has %.1f GiB",
                       name, (double)total / (1 << 30), have / (1 << 30));
    return 0;
}

static int map_and_fill(qw_checkpoint *ck, size_t total, uint64_t seed, qw_pool *pool, const char *name, char *err,
                        size_t errlen) {
    int rc = check_memory(total, name, err, errlen);
    if (rc) return rc;
    void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return qw_errf(err, errlen, QWENC_ENOMEM, "synthetic %s: cannot map %.1f GiB", name, (double)total / (1 << 30));
    ck->files[0] = (qw_mapped_file){.data = base, .size = total};  /* qw_checkpoint_close unmaps it */
    for (int i = 0; i < ck->n_tensors; i++)
        ck->tensors[i].data = (unsigned char *)base + (uintptr_t)ck->tensors[i].data;
    qsort(ck->tensors, (size_t)ck->n_tensors, sizeof *ck->tensors, cmp_name);
    if (fill(ck, base, seed, pool)) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    mprotect(base, total, PROT_READ);  /* weights are read-only from here on, as a file mapping is */
    return 0;
}

int qw_synthetic_checkpoint(const qw_config *c, qw_dtype dtype, uint64_t seed, const char *name, qw_pool *pool,
                            qw_checkpoint *ck, char *err, size_t errlen) {
    memset(ck, 0, sizeof *ck);
    builder b = {.ck = ck};
    ck->files = calloc(1, sizeof *ck->files);
    ck->file_names = calloc(1, sizeof *ck->file_names);
    int rc = ck->files && ck->file_names && (ck->file_names[0] = strdup(name)) ? 0 : QWENC_ENOMEM;
    if (!rc) ck->n_files = 1;
    if (!rc) rc = add_all(&b, c, dtype);
    if (rc) rc = qw_errf(err, errlen, rc, "out of memory");
    else rc = map_and_fill(ck, b.total, seed, pool, name, err, errlen);
    if (rc) qw_checkpoint_close(ck);
    return rc;
}
