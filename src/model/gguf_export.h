/* A loaded model (its config, checkpoint tensors and tokenizer) written as a
 * GGUF v3 file of the kind llama.cpp's convert_hf_to_gguf.py writes and
 * llama.cpp loads: arch qwen3 / qwen3moe / qwen2 metadata, llama.cpp tensor
 * names, per-expert matrices stacked into ffn_{gate,up,down}_exps, and the
 * tokenizer as tokenizer.ggml.* metadata.
 *
 * Tensor types follow the converter: 1-D tensors, norms and the MoE router
 * (ffn_gate_inp) stay F32; every other matrix gets the requested type, or
 * F16 when its rows are not whole Q8_0/Q4_0 blocks. With q4_0 the token
 * embedding (and output) matrix is Q4_0 as well (llama-quantize --pure;
 * plain llama-quantize would use Q6_K there, which qwenc does not write).
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

/* "f32", "f16", "bf16", "q8_0", "q4_0" -> the ggml type; QWENC_EINVAL naming
 * the string otherwise. */
int qw_gguf_export_type(const char *name, uint32_t *type, char *err, size_t errlen);

/* tok may be NULL (no tokenizer metadata is written then). */
int qw_gguf_export(const qw_config *c, const qw_checkpoint *ck, const qwenc_tokenizer *tok, qw_pool *pool,
                   const char *path, const char *type,
                   void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx, char *err,
                   size_t errlen);

#endif
