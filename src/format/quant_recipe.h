/* Which ggml type each tensor of a model gets when qwenc writes it as GGUF
 * (qwenc convert --type) or quantizes it at load (--quant): the choices
 * llama.cpp makes, so that a file we write has the types llama.cpp's tools
 * would have given it.
 *
 * Always (convert_hf_to_gguf.py, and llama-quantize's
 * tensor_allows_quantization): 1-D tensors, *_norm.weight and the MoE router
 * (ffn_gate_inp) are F32.
 *
 * "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k": every other matrix in
 * that type, the token embedding and output included (llama-quantize --pure
 * for the quantized ones).
 *
 * "q4_k_m": llama-quantize's Q4_K_M (src/llama-quant.cpp,
 * llama_tensor_get_type_impl, as of llama.cpp's node-llama-cpp 3.22.1
 * bundle) on Q4_K by default:
 *   - output.weight, and token_embd.weight when the embeddings are tied (no
 *     output.weight): Q6_K, or Q8_0 when its rows are not whole 256-blocks;
 *   - attn_v.weight of layer i and ffn_down (ffn_down_exps) of layer i: Q6_K
 *     when use_more_bits(i, n_layers): i < n/8 || i >= 7n/8 ||
 *     (i - n/8) % 3 == 2. (llama.cpp counts attn_v tensors in layer order and
 *     parses the layer of ffn_down from its name when there are experts;
 *     with one attn_v and one ffn_down per Qwen layer both are the layer.)
 *   - models with exactly 8 experts get attn_v and attn_k Q8_0 and
 *     attn_output Q5_K there, a type qwenc does not write: such models are
 *     refused (no Qwen3-MoE release has 8 experts);
 *   - everything else (an untied token_embd too): Q4_K.
 *
 * Then llama.cpp's fallback for rows that are not whole blocks of the
 * chosen type (tensor_type_fallback): Q4_K -> Q5_0, Q6_K -> Q8_0, and F16
 * when that still does not fit (a 32-block type goes to F16 directly). */
#ifndef QW_FORMAT_QUANT_RECIPE_H
#define QW_FORMAT_QUANT_RECIPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;    /* as given: "q4_k_m" */
    uint32_t type;       /* the ggml type of the matrices (Q4_K for q4_k_m) */
    uint32_t file_type;  /* general.file_type: llama.cpp's LLAMA_FTYPE_* */
    int q4_k_m;          /* llama.cpp's Q4_K_M choices on top of type */
    int n_layers, n_experts;
} qw_quant_recipe;

/* The recipe of a type name for a model of n_layers layers and n_experts
 * experts (0 for dense). QWENC_EINVAL naming the known types for an
 * unknown name; QWENC_EUNSUPPORTED for q4_k_m on an 8-expert model. */
int qw_quant_recipe_init(const char *name, int n_layers, int n_experts, qw_quant_recipe *r, char *err,
                         size_t errlen);

/* The type of GGUF tensor gguf_name ("blk.3.attn_v.weight") of n_dims
 * dimensions whose rows have ne0 elements; tied: the model has no
 * output.weight (token_embd is the output too). */
uint32_t qw_quant_recipe_type(const qw_quant_recipe *r, const char *gguf_name, int n_dims, int64_t ne0, int tied);

/* "f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q4_k_m": for messages. */
const char *qw_quant_recipe_names(void);

#endif
