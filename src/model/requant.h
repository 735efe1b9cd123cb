/* Quantizing at load (qwenc_model_params.quant, the CLI's --quant): the
 * tensors of an opened checkpoint converted in memory to another weight
 * type before the weights are bound. Each tensor gets the type qwenc convert
 * --type would write for it (format/quant_recipe.h: matrices converted,
 * norms, biases and the MoE router F32) through the same row conversion
 * (qw_dequant_row, then qw_quant_row), so a model quantized at load holds,
 * tensor for tensor, the bytes of the converted GGUF file and computes the
 * same logits bit for bit.
 *
 * Converted tensors go into one anonymous mapping owned by the checkpoint
 * (ck->converted), written a slab of rows at a time on the pool's threads.
 * As each slab is done the pages of its source bytes are returned to the
 * system (the checkpoint's tensor now points at the converted copy and
 * nothing reads the source again), so memory peaks near the converted size
 * plus one slab rather than at both whole models. A tensor already of its
 * target type stays where it is. */
#ifndef QW_MODEL_REQUANT_H
#define QW_MODEL_REQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "format/config.h"
#include "format/safetensors.h"

/* type: a name qw_quant_recipe_init knows ("q8_0", "q4_k", ...). progress
 * (may be NULL) receives bytes of source tensors converted so far. */
int qw_requant(const qw_config *c, qw_checkpoint *ck, const char *type, qw_pool *pool,
               void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx, char *err,
               size_t errlen);

#endif
