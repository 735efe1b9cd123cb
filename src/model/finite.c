#include "model/finite.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of one task: large enough that handing out tasks costs nothing,
 * small enough that one huge embedding is still split across threads. */
#define CHUNK (4u << 20)

typedef struct {
    int tensor;
    size_t begin, len;  /* bytes of the tensor's data */
} scan_task;

typedef struct {
    const qw_checkpoint *ck;
    const scan_task *tasks;
    int64_t *found;     /* per task */
} scan_job;

/* Bytes of one task of a tensor of type t: whole units (an element, or a
 * 32-weight block), never split. */
static size_t task_bytes(qw_dtype t) {
    size_t unit = t == QW_DT_Q8_0 ? 34 : t == QW_DT_Q4_0 ? 18 : qw_dtype_size(t);
    return CHUNK / unit * unit;
}

/* Loads go through memcpy: tensors the model does not bind need not be aligned. */
static int64_t scan_f32(const unsigned char *p, size_t n) {
    int64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        bad += (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad;
}

static int64_t scan_f64(const unsigned char *p, size_t n) {
    int64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, p + 8 * i, 8);
        bad += (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
    }
    return bad;
}

/* f16 and bf16 differ only in where the exponent is. */
static int64_t scan_16(const unsigned char *p, size_t n, uint16_t exp_mask) {
    int64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        bad += (h & exp_mask) == exp_mask;
    }
    return bad;
}

/* Blocks start with their f16 scale; the int8/nibble weights are finite. */
static int64_t scan_blocks(const unsigned char *p, size_t n, size_t block) {
    int64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t d;
        memcpy(&d, p + block * i, 2);
        bad += ((d & 0x7c00) == 0x7c00) * 32;
    }
    return bad;
}

static int64_t scan_range(qw_dtype t, const unsigned char *p, size_t bytes) {
    switch (t) {
    case QW_DT_F32: return scan_f32(p, bytes / 4);
    case QW_DT_F64: return scan_f64(p, bytes / 8);
    case QW_DT_F16: return scan_16(p, bytes / 2, 0x7c00);
    case QW_DT_BF16: return scan_16(p, bytes / 2, 0x7f80);
    case QW_DT_Q8_0: return scan_blocks(p, bytes / 34, 34);
    case QW_DT_Q4_0: return scan_blocks(p, bytes / 18, 18);
    default: return 0;  /* integers are always finite; f8 is not a weight type here */
    }
}

static void scan_one(void *ctx, int task, int thread) {
    (void)thread;
    scan_job *j = ctx;
    const scan_task *t = &j->tasks[task];
    const qw_st_tensor *x = &j->ck->tensors[t->tensor];
    j->found[task] = scan_range(x->dtype, (const unsigned char *)x->data + t->begin, t->len);
}

static int is_scanned(qw_dtype t) {
    return t == QW_DT_F32 || t == QW_DT_F64 || t == QW_DT_F16 || t == QW_DT_BF16 || t == QW_DT_Q8_0 ||
           t == QW_DT_Q4_0;
}

int qw_count_nonfinite(const qw_checkpoint *ck, qw_pool *pool, int64_t *counts) {
    size_t n_tasks = 0;
    for (int i = 0; i < ck->n_tensors; i++)
        if (is_scanned(ck->tensors[i].dtype)) {
            size_t step = task_bytes(ck->tensors[i].dtype);
            n_tasks += (ck->tensors[i].nbytes + step - 1) / step;
        }
    scan_task *tasks = malloc((n_tasks ? n_tasks : 1) * sizeof *tasks);
    int64_t *found = calloc(n_tasks ? n_tasks : 1, sizeof *found);
    if (!tasks || !found || n_tasks > (size_t)INT32_MAX) {
        free(tasks);
        free(found);
        return QWENC_ENOMEM;
    }
    size_t k = 0;
    for (int i = 0; i < ck->n_tensors; i++) {
        const qw_st_tensor *x = &ck->tensors[i];
        if (!is_scanned(x->dtype)) continue;
        size_t step = task_bytes(x->dtype);
        for (size_t b = 0; b < x->nbytes; b += step)
            tasks[k++] = (scan_task){i, b, x->nbytes - b < step ? x->nbytes - b : step};
    }
    scan_job job = {ck, tasks, found};
    qw_pool_run(pool, scan_one, &job, (int)k);
    memset(counts, 0, (size_t)ck->n_tensors * sizeof *counts);
    for (size_t t = 0; t < k; t++) counts[tasks[t].tensor] += found[t];
    free(tasks);
    free(found);
    return 0;
}
