/* A loaded model (its config, checkpoint tensors and tokenizer) written as a
 * GGUF v3 file of the kind llama.cpp's convert_hf_to_gguf.py writes and
 * llama.cpp loads: arch qwen3 / qwen3moe / qwen2 metadata, llama.cpp tensor
 * names, per-expert matrices stacked into ffn_{gate,up,down}_exps, and the
 * tokenizer as tokenizer.ggml.* metadata.
 *
 * Tensor types are llama.cpp's for the requested type (format/quant_recipe.h):
 * 1-D tensors, norms and the MoE router stay F32; every other matrix gets
 * the type (as llama-quantize --pure), or llama-quantize's Q4_K_M mix for
 * q4_k_m; rows that are not whole blocks fall back as llama.cpp's do.
 *
 * Tensors are converted a slab of rows at a time on the thread pool and
 * streamed out; a tensor already in the requested type is copied as is. */
#ifndef QW_MODEL_GGUF_EXPORT_H
#define QW_MODEL_GGUF_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "format/config.h"
#include "format/safetensors.h"
#include "qwenc.h"

/* type: a name qw_quant_recipe_init knows ("q8_0", "q4_k_m", ...); tok may
 * be NULL (no tokenizer metadata is written then). */
int qw_gguf_export(const qw_config *c, const qw_checkpoint *ck, const qwenc_tokenizer *tok, qw_pool *pool,
                   const char *path, const char *type,
                   void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx, char *err,
                   size_t errlen);

#endif
