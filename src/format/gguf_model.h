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
/* The same for a file already in memory (borrowed: it must outlive ck). */
int qw_gguf_model_open_buffer(const char *name, const void *data, size_t size, qw_config *c, qw_checkpoint *ck,
                              char *err, size_t errlen);

/* The other direction, for writing GGUF: the llama.cpp name of a Hugging
 * Face tensor name, or "" when it has none. Per-expert matrices
 * ("model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight") are stacked
 * into one tensor per layer and projection: for them this returns "" and
 * qw_gguf_expert_name gives the stacked name (1), its layer and expert. */
void qw_gguf_name_from_hf(const char *hf, char *out, size_t n);
int qw_gguf_expert_name(const char *hf, int *layer, int *expert, char *out, size_t n);

#endif
