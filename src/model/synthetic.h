/* Random-weight models of real Qwen shapes, built in memory for benchmarks
 * and tests: a qw_config from a table of published shapes, and a
 * qw_checkpoint whose tensors carry the Hugging Face names and dtypes a real
 * checkpoint (or a GGUF file of that type) has, so that binding, the forward
 * pass and anything that walks a checkpoint's tensors take it as they would a
 * file. The tensors live in one anonymous mapping, released by
 * qw_checkpoint_close. */
#ifndef QW_MODEL_SYNTHETIC_H
#define QW_MODEL_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "format/config.h"
#include "format/safetensors.h"

/* The config of a known shape ("qwen3-0.6b", ...); neutral generation
 * defaults. QWENC_EINVAL naming the known shapes when there is no such shape. */
int qw_synthetic_config(const char *shape, qw_config *c, char *err, size_t errlen);

/* "f32", "bf16", "q8_0", "q4_0": the dtype of the weight matrices. */
int qw_synthetic_dtype(const char *name, qw_dtype *out, char *err, size_t errlen);

/* Every tensor of c with random contents: matrices of dtype about N(0, 0.02)
 * (block formats: uniform quants under a random f16 scale of that spread),
 * norm gains 1 and biases N(0, 0.02) in f32, the MoE router in f32. Filled on
 * pool's threads; the contents depend on seed and the tensor names only.
 * name labels the checkpoint in error messages. QWENC_ENOMEM when the tensors
 * need more memory than the machine has. */
int qw_synthetic_checkpoint(const qw_config *c, qw_dtype dtype, uint64_t seed, const char *name, qw_pool *pool,
                            qw_checkpoint *ck, char *err, size_t errlen);

#endif
