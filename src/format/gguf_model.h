/* A GGUF file as a model: its metadata as a qw_config, its tensors as a
 * checkpoint under the Hugging Face names the model code binds (the one
 * place where llama.cpp's tensor names are known). Stacked expert tensors
 * become per-expert views; nothing is copied. */
#ifndef QW_FORMAT_GGUF_MODEL_H
#define QW_FORMAT_GGUF_MODEL_H

#include <stddef.h>

#include "format/config.h"
#include "format/safetensors.h"

/* Opens path (a .gguf file) into both; on failure neither needs freeing. */
int qw_gguf_model_open(const char *path, qw_config *c, qw_checkpoint *ck, char *err, size_t errlen);

#endif
