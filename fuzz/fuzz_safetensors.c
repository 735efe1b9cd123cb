/* safetensors: arbitrary bytes as one file (header length, JSON header,
 * data), parsed from memory the way qw_checkpoint_open parses a
 * model.safetensors. Either it fails with one line, or every tensor lies
 * inside the buffer with as many bytes as its shape and dtype say, shares
 * no byte with another, and is found by name. */
#include "format/safetensors.h"

#include "fuzz.h"

static void check_tensor(const qw_checkpoint *ck, const qw_st_tensor *t, const uint8_t *data, size_t size) {
    const uint8_t *p = t->data;
    FUZZ_CHECK(p >= data + 8 && t->nbytes <= size && p - data <= (ptrdiff_t)(size - t->nbytes),
               "tensor '%s' is outside the file", t->name);
    uint64_t n = qw_dtype_size(t->dtype);
    FUZZ_CHECK(n > 0 && t->rank >= 0 && t->rank <= QW_MAX_RANK, "tensor '%s': dtype %d, rank %d", t->name, t->dtype,
               t->rank);
    for (int d = 0; d < t->rank; d++) n *= (uint64_t)t->shape[d];
    FUZZ_CHECK(n == t->nbytes, "tensor '%s': %zu bytes for %llu", t->name, t->nbytes, (unsigned long long)n);
    FUZZ_CHECK(qw_checkpoint_find(ck, t->name) == t, "tensor '%s' is not found by name", t->name);
    if (t->nbytes) {
        volatile uint8_t first = p[0], last = p[t->nbytes - 1];  /* inside the buffer, for ASan */
        (void)first, (void)last;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qw_checkpoint ck;
    char err[512] = "";
    int rc = qw_checkpoint_open_buffer("fuzz.safetensors", data, size, &ck, err, sizeof err);
    if (rc) {
        FUZZ_CHECK(rc == QWENC_EFORMAT || rc == QWENC_ENOMEM, "rc %d", rc);
        FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
        return 0;
    }
    for (int i = 0; i < ck.n_tensors; i++) {
        const qw_st_tensor *a = &ck.tensors[i];
        check_tensor(&ck, a, data, size);
        for (int j = 0; j < i && a->nbytes; j++) {  /* no two share a byte */
            const qw_st_tensor *b = &ck.tensors[j];
            const uint8_t *pa = a->data, *pb = b->data;
            FUZZ_CHECK(!b->nbytes || pa + a->nbytes <= pb || pb + b->nbytes <= pa, "'%s' and '%s' overlap", a->name,
                       b->name);
        }
    }
    qw_checkpoint_close(&ck);
    return 0;
}
