/* NaN and infinity in stored weights: a damaged or badly converted checkpoint
 * loads and runs, but its logits turn to NaN. The scan reads every byte of
 * every floating-point tensor, split across the thread pool. */
#ifndef QW_MODEL_FINITE_H
#define QW_MODEL_FINITE_H

#include <stdint.h>

#include "base/threadpool.h"
#include "format/safetensors.h"

/* Counts the non-finite weights of each tensor of ck into counts[n_tensors]
 * (as dequantized: a q8_0/q4_0 block whose f16 scale is not finite counts
 * its 32 weights; integer tensors count 0). 0, or QWENC_ENOMEM. */
int qw_count_nonfinite(const qw_checkpoint *ck, qw_pool *pool, int64_t *counts);

#endif
