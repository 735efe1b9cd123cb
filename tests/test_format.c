/* safetensors and config.json parsing: hostile files fail cleanly with a
 * message naming the problem; both config styles load; the MoE layer rules
 * and routing. */
#include "check.h"
#include "format/config.h"
#include "format/safetensors.h"
#include "model/moe.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { perror(p); exit(2); }
    fclose(f);
}

/* A safetensors file: header JSON, then data_bytes zero bytes. */
static void write_st(const char *dir, const char *name, const char *header, size_t data_bytes) {
    size_t hl = strlen(header);
    size_t n = 8 + hl + data_bytes;
    unsigned char *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    write_file(dir, name, b, n);
    free(b);
}

static const char *fresh_dir(const char *name) {
    static char d[512];
    snprintf(d, sizeof d, "%s/%s", tmp, name);
    mkdir(d, 0755);
    return d;
}

/* Opens dir as a checkpoint and expects failure with needle in the message. */
static void expect_ck_error(const char *what, const char *dir, const char *needle) {
    qw_checkpoint ck;
    char err[512] = "";
    int rc = qw_checkpoint_open(dir, &ck, err, sizeof err);
    CHECK(rc < 0, "%s: opened a bad checkpoint", what);
    CHECK(strstr(err, needle) != NULL, "%s: '%s' not in '%s'", what, needle, err);
    CHECK(!strpbrk(err, "\n\r\x1b"), "%s: the message is not one line: '%s'", what, err);
    if (rc == 0) qw_checkpoint_close(&ck);
}


/* A safetensors file whose 8-byte length says hlen, followed by `rest`. */
static void write_raw(const char *dir, const char *name, uint64_t hlen, const char *rest, size_t n) {
    unsigned char *b = calloc(1, 8 + n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 8, rest, n);
    write_file(dir, name, b, 8 + n);
    free(b);
}

static void write_index(const char *dir, const char *json) { write_file(dir, "model.safetensors.index.json", json, strlen(json)); }

static const char *one_f32 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";

/* Lengths, ranges and shard indexes a hostile file can lie about. */
static void test_safetensors_hostile(void) {
    const char *d = fresh_dir("gap");
    write_st(d, "model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
    expect_ck_error("a gap between tensors", d, "data bytes [4, 8) before tensor 'b' belong to no tensor");

    d = fresh_dir("lead-gap");
    write_st(d, "model.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    expect_ck_error("bytes before the first tensor", d, "data bytes [0, 4) before tensor 'a'");

    d = fresh_dir("trailing");
    write_st(d, "model.safetensors", one_f32, 20);
    expect_ck_error("bytes after the last tensor", d, "16 data bytes after the last tensor belong to no tensor");

    d = fresh_dir("no-tensors-trailing");
    write_st(d, "model.safetensors", "{}", 4);
    expect_ck_error("no tensors but data bytes", d, "4 data bytes after the last tensor");

    d = fresh_dir("empty-tensor");  /* a zero-element tensor is legal and covers no bytes */
    write_st(d, "model.safetensors",
             "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    qw_checkpoint ck;
    char err[512] = "";
    CHECK(qw_checkpoint_open(d, &ck, err, sizeof err) == 0, "zero-element tensor: %s", err);
    if (!err[0]) qw_checkpoint_close(&ck);

    d = fresh_dir("bytes-overflow");
    write_st(d, "model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905],\"data_offsets\":[0,4]}}", 4);
    expect_ck_error("element count x dtype size overflows", d, "elements of 4 bytes overflow 64 bits");

    d = fresh_dir("offset-huge");
    write_st(d, "model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775803,"
             "9223372036854775807]}}", 4);
    expect_ck_error("data offset near 2^63", d, "past the end of the file");

    d = fresh_dir("hlen-zero");
    write_raw(d, "model.safetensors", 0, "{}", 2);
    expect_ck_error("header length 0", d, "header (0 bytes) does not start with '{'");

    d = fresh_dir("hlen-space");
    write_raw(d, "model.safetensors", 3, " {}", 3);
    expect_ck_error("header starting with a space", d, "does not start with '{'");

    d = fresh_dir("hlen-past");
    write_raw(d, "model.safetensors", 100, "{}", 2);
    expect_ck_error("header length past the end", d, "header length 100 is larger than the file (10 bytes)");

    d = fresh_dir("hlen-absurd");
    write_raw(d, "model.safetensors", UINT64_MAX, "{}", 2);
    expect_ck_error("header length 2^64-1", d, "header length 18446744073709551615 is larger than the file");

    /* a header length within the file but over 100 MiB: a sparse file, no disk used */
    d = fresh_dir("hlen-big");
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    write_raw(d, "model.safetensors", (100u << 20) + 1, "{", 1);
    CHECK(truncate(p, (100 << 20) + 64) == 0, "truncate");
    expect_ck_error("header over 100 MiB", d, "is more than the 100 MiB allowed");

    d = fresh_dir("abs-shard");
    write_index(d, "{\"weight_map\":{\"a\":\"/etc/passwd\"}}");
    expect_ck_error("index names an absolute path", d, "shard name '/etc/passwd' is not a plain file name");

    d = fresh_dir("dotdot-shard");
    write_index(d, "{\"weight_map\":{\"a\":\"..\"}}");
    expect_ck_error("index names ..", d, "shard name '..' is not a plain file name");

    d = fresh_dir("empty-shard-name");
    write_index(d, "{\"weight_map\":{\"a\":\"\"}}");
    expect_ck_error("index names an empty file name", d, "shard name '' is not a plain file name");

    d = fresh_dir("shard-not-string");
    write_index(d, "{\"weight_map\":{\"a\":7}}");
    expect_ck_error("index value not a string", d, "weight_map['a'] is not a file name");

    d = fresh_dir("tensor-nowhere");
    write_st(d, "s1.safetensors", one_f32, 4);
    write_index(d, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"ghost\":\"s1.safetensors\"}}");
    expect_ck_error("index names a tensor the shard lacks", d, "tensor 'ghost' is not in s1.safetensors");

    d = fresh_dir("shard-dir");
    snprintf(p, sizeof p, "%s/s1.safetensors", d);
    mkdir(p, 0755);
    write_index(d, "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    expect_ck_error("shard is a directory", d, "s1.safetensors: not a regular file (a directory)");

    d = fresh_dir("shard-fifo");  /* must fail at once, not wait for a writer */
    snprintf(p, sizeof p, "%s/s1.safetensors", d);
    CHECK(mkfifo(p, 0644) == 0, "mkfifo");
    write_index(d, "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    expect_ck_error("shard is a FIFO", d, "s1.safetensors: not a regular file (a FIFO)");

    d = fresh_dir("index-fifo");
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    CHECK(mkfifo(p, 0644) == 0, "mkfifo");
    expect_ck_error("index is a FIFO", d, "model.safetensors.index.json: not a regular file (a FIFO)");

    d = fresh_dir("index-loop");
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    CHECK(symlink(p, p) == 0, "symlink");
    expect_ck_error("index is a symlink loop", d, "Too many levels of symbolic links");
}

static void test_safetensors(void) {
    const char *d = fresh_dir("ok");
    write_st(d, "model.safetensors",
             "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
             "\"a\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 16);
    qw_checkpoint ck;
    char err[512];
    CHECK(qw_checkpoint_open(d, &ck, err, sizeof err) == 0, "good file: %s", err);
    CHECK(ck.n_tensors == 2, "two tensors");
    const qw_st_tensor *a = qw_checkpoint_find(&ck, "a"), *b = qw_checkpoint_find(&ck, "b");
    CHECK(a && a->dtype == QW_DT_BF16 && a->rank == 2 && a->nbytes == 8, "tensor a");
    CHECK(b && (const char *)b->data == (const char *)a->data + 8, "tensor b points into the mapping");
    CHECK(qw_checkpoint_find(&ck, "c") == NULL, "no tensor c");
    qw_checkpoint_close(&ck);

    d = fresh_dir("overlap");
    write_st(d, "model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16);
    expect_ck_error("overlapping tensors", d, "overlap");

    d = fresh_dir("mismatch");
    write_st(d, "model.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16);
    expect_ck_error("offsets vs shape", d, "do not match shape");

    d = fresh_dir("overflow");
    write_st(d, "model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 16);
    expect_ck_error("shape product overflows", d, "overflows");

    d = fresh_dir("negative");
    write_st(d, "model.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 16);
    expect_ck_error("negative dim", d, "bad shape");

    d = fresh_dir("dup");
    write_st(d, "model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    expect_ck_error("duplicate name in one header", d, "invalid JSON header");

    d = fresh_dir("empty");
    expect_ck_error("no weights", d, "no model.safetensors");

    d = fresh_dir("shards");
    write_st(d, "s1.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    write_st(d, "s2.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    const char *idx = "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}";
    write_file(d, "model.safetensors.index.json", idx, strlen(idx));
    expect_ck_error("duplicate name across shards", d, "appears in");

    d = fresh_dir("wrong-shard");
    write_st(d, "s1.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    write_st(d, "s2.safetensors", "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    idx = "{\"weight_map\":{\"a\":\"s2.safetensors\",\"b\":\"s2.safetensors\"}}";
    write_file(d, "model.safetensors.index.json", idx, strlen(idx));
    expect_ck_error("index names the wrong shard", d, "is not in s2.safetensors");

    d = fresh_dir("missing-shard");
    idx = "{\"weight_map\":{\"a\":\"nope.safetensors\"}}";
    write_file(d, "model.safetensors.index.json", idx, strlen(idx));
    expect_ck_error("index names a missing file", d, "nope.safetensors");

    d = fresh_dir("traversal");
    idx = "{\"weight_map\":{\"a\":\"../ok/model.safetensors\"}}";
    write_file(d, "model.safetensors.index.json", idx, strlen(idx));
    expect_ck_error("shard path outside the directory", d, "not a plain file name");

    /* Found by fuzzing: messages quoting the file (a JSON token, a tensor
     * name) carried its control characters, so one error took several lines. */
    d = fresh_dir("control-chars");
    write_st(d, "model.safetensors", "{\"a\nb\":\n\x1b[31m}", 0);
    expect_ck_error("newline in a bad JSON token", d, "invalid JSON header");
    write_st(d, "model.safetensors", "{\"a\\nb\\u001b\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    expect_ck_error("control characters in a tensor name", d, "tensor 'a?b?': bad shape");

    d = fresh_dir("loop");
    char link[600];
    snprintf(link, sizeof link, "%s/model.safetensors", d);
    CHECK(symlink(link, link) == 0, "symlink");
    expect_ck_error("symlink loop", d, "model.safetensors");
    test_safetensors_hostile();
}

static const char *hub_cfg =
    "{\"architectures\":[\"Qwen3MoeForCausalLM\"],\"model_type\":\"qwen3_moe\",\"vocab_size\":100,"
    "\"hidden_size\":16,\"intermediate_size\":48,\"num_hidden_layers\":4,\"num_attention_heads\":4,"
    "\"num_key_value_heads\":2,\"head_dim\":8,\"rope_theta\":1000000.0,\"num_experts\":8,"
    "\"num_experts_per_tok\":2,\"moe_intermediate_size\":32,\"norm_topk_prob\":true,"
    "\"decoder_sparse_step\":2,\"mlp_only_layers\":[3],\"torch_dtype\":\"bfloat16\","
    "\"use_sliding_window\":false,\"sliding_window\":64}";

static const char *new_cfg =
    "{\"architectures\":[\"Qwen3MoeForCausalLM\"],\"model_type\":\"qwen3_moe\",\"vocab_size\":100,"
    "\"hidden_size\":16,\"intermediate_size\":48,\"num_hidden_layers\":4,\"num_attention_heads\":4,"
    "\"num_key_value_heads\":2,\"head_dim\":8,\"rope_parameters\":{\"rope_theta\":5000.0,\"rope_type\":\"default\"},"
    "\"num_local_experts\":8,\"num_experts_per_tok\":2,\"moe_intermediate_size\":32,\"dtype\":\"bfloat16\"}";

/* qw_config_load on a path, expecting failure with needle in the message. */
static void expect_cfg_error(const char *what, const char *dir, const char *needle) {
    qw_config c;
    char err[512] = "";
    int rc = qw_config_load(dir, &c, err, sizeof err);
    CHECK(rc < 0 && strstr(err, needle), "%s: rc %d, '%s' not in '%s'", what, rc, needle, err);
    if (!rc) qw_config_free(&c);
}

/* config.json (and the directory) as something other than a regular file:
 * a FIFO must fail at once, not wait for a writer. */
static void test_config_files(void) {
    char p[600];
    const char *d = fresh_dir("cfg-fifo");
    snprintf(p, sizeof p, "%s/config.json", d);
    CHECK(mkfifo(p, 0644) == 0, "mkfifo");
    expect_cfg_error("config.json is a FIFO", d, "config.json: not a regular file (a FIFO)");
    d = fresh_dir("cfg-dir");
    snprintf(p, sizeof p, "%s/config.json", d);
    mkdir(p, 0755);
    expect_cfg_error("config.json is a directory", d, "config.json: not a regular file (a directory)");
    d = fresh_dir("cfg-loop");
    snprintf(p, sizeof p, "%s/config.json", d);
    CHECK(symlink(p, p) == 0, "symlink");
    expect_cfg_error("config.json is a symlink loop", d, "config.json: Too many levels of symbolic links");
    d = fresh_dir("cfg-gen-fifo");
    write_file(d, "config.json", new_cfg, strlen(new_cfg));
    snprintf(p, sizeof p, "%s/generation_config.json", d);
    CHECK(mkfifo(p, 0644) == 0, "mkfifo");
    expect_cfg_error("generation_config.json is a FIFO", d, "generation_config.json: not a regular file (a FIFO)");
    snprintf(p, sizeof p, "%s/dir-loop", tmp);
    CHECK(symlink(p, p) == 0, "symlink");
    expect_cfg_error("model directory is a symlink loop", p, "dir-loop: Too many levels of symbolic links");
    snprintf(p, sizeof p, "%s/cfg-new/config.json", tmp);
    expect_cfg_error("model directory is a file", p, "not a model directory (a regular file)");
}

static void test_config(void) {
    qw_config c;
    char err[512];
    const char *d = fresh_dir("cfg-hub");
    write_file(d, "config.json", hub_cfg, strlen(hub_cfg));
    CHECK(qw_config_load(d, &c, err, sizeof err) == 0, "hub config: %s", err);
    CHECK(c.arch == QW_ARCH_QWEN3_MOE && c.n_experts == 8 && c.rope_theta == 1e6, "hub fields");
    CHECK(c.sliding_window == 0, "use_sliding_window false means full attention");
    CHECK(!strcmp(c.dtype, "bfloat16"), "torch_dtype");
    /* decoder_sparse_step 2: layers 1 and 3 would be sparse; 3 is mlp_only */
    CHECK(!qw_config_layer_is_moe(&c, 0) && qw_config_layer_is_moe(&c, 1) && !qw_config_layer_is_moe(&c, 2) &&
              !qw_config_layer_is_moe(&c, 3), "decoder_sparse_step and mlp_only_layers");
    qw_config_free(&c);

    d = fresh_dir("cfg-new");
    write_file(d, "config.json", new_cfg, strlen(new_cfg));
    CHECK(qw_config_load(d, &c, err, sizeof err) == 0, "new-style config: %s", err);
    CHECK(c.n_experts == 8 && c.rope_theta == 5000.0 && !strcmp(c.dtype, "bfloat16"), "new-style fields");
    CHECK(c.decoder_sparse_step == 1 && c.norm_topk_prob == 0, "defaults");
    for (int i = 0; i < 4; i++) CHECK(qw_config_layer_is_moe(&c, i), "every layer sparse by default");
    CHECK(c.gen.n_eos == 0 && c.gen.temperature == 1.0f, "no generation_config: neutral defaults");
    qw_config_free(&c);

    const char *bad[][2] = {
        {"{\"model_type\":\"qwen3\",\"vocab_size\":10}", "missing 'hidden_size'"},
        {"{\"model_type\":\"qwen3\",\"vocab_size\":\"ten\"}", "'vocab_size' must be an integer"},
        {"{\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":1,\"num_attention_heads\":3,\"num_key_value_heads\":2}", "not a multiple"},
        {"{\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"rope_scaling\":{\"rope_type\":\"yarn\"}}", "yarn"},
        {"[1,2]", "not a JSON object"},
        {"{\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":1,\"num_attention_heads\":65536,\"num_key_value_heads\":1,\"head_dim\":65536}",
         "num_attention_heads * head_dim = 4294967296 is more than 2097152"},
        {"{\"model_type\":\"qwen3\",\"vocab_size\":999999999,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":1,\"num_attention_heads\":2}", "vocab_size = 999999999 is more than"},
        {"{\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":100000,\"num_attention_heads\":2}", "'num_hidden_layers' must be an integer in [1, 65536]"},
        {"{\"model_type\":\"gpt2\"}", "unsupported architecture"},
        /* found by fuzzing: a table of a billion layers was allocated before any tensor was read */
        {"{\"model_type\":\"qwen3\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,"
         "\"num_hidden_layers\":1000000000,\"num_attention_heads\":2}", "'num_hidden_layers' must be an integer in [1, 65536]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = fresh_dir("cfg-bad");
        write_file(d, "config.json", bad[i][0], strlen(bad[i][0]));
        err[0] = 0;
        int rc = qw_config_load(d, &c, err, sizeof err);
        CHECK(rc < 0 && strstr(err, bad[i][1]) && strstr(err, "config.json"), "bad config %zu: '%s'", i, err);
        if (!rc) qw_config_free(&c);
    }
    test_config_files();
}

/* The same parsers on bytes in memory (what the fuzz harnesses drive). */
static void test_from_memory(void) {
    static const char header[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char file[8 + sizeof header - 1 + 8] = {sizeof header - 1};
    memcpy(file + 8, header, sizeof header - 1);
    qw_checkpoint ck;
    char err[512] = "";
    CHECK(qw_checkpoint_open_buffer("mem.safetensors", file, sizeof file, &ck, err, sizeof err) == 0, "buffer: %s", err);
    const qw_st_tensor *w = qw_checkpoint_find(&ck, "w");
    CHECK(ck.n_tensors == 1 && w && (const unsigned char *)w->data == file + 8 + sizeof header - 1, "tensor w");
    qw_checkpoint_close(&ck);
    CHECK(file[8] == '{', "closing left the caller's buffer alone");
    /* Found by fuzzing: a header without tensors did pointer arithmetic on NULL. */
    static const char empty[] = "\x1a\0\0\0\0\0\0\0{\"__metadata__\":{\"a\":\"b\"}}";
    CHECK(qw_checkpoint_open_buffer("empty", empty, sizeof empty - 1, &ck, err, sizeof err) == 0 && ck.n_tensors == 0 &&
              !qw_checkpoint_find(&ck, "a"), "a file without tensors: %s", err);
    qw_checkpoint_close(&ck);
    CHECK(qw_checkpoint_open_buffer("mem.safetensors", file, sizeof file - 1, &ck, err, sizeof err) == QWENC_EFORMAT &&
              strstr(err, "mem.safetensors: tensor 'w': data ends at 8"), "short buffer: %s", err);

    qw_config c;
    CHECK(qw_config_parse("cfg", hub_cfg, strlen(hub_cfg), &c, err, sizeof err) == 0, "config text: %s", err);
    CHECK(c.n_experts == 8 && c.gen.n_eos == 0, "config fields");
    static const char gen[] = "{\"temperature\":0.6,\"top_k\":20,\"eos_token_id\":[5,6]}";
    CHECK(qw_config_parse_generation("gen", gen, strlen(gen), &c, err, sizeof err) == 0, "generation text: %s", err);
    CHECK(c.gen.temperature == 0.6f && c.gen.top_k == 20 && c.gen.n_eos == 2 && c.gen.eos_ids[1] == 6, "generation");
    CHECK(qw_config_parse_generation("gen", "[]", 2, &c, err, sizeof err) == QWENC_EFORMAT &&
              !strcmp(err, "gen: not a JSON object"), "generation config that is not an object: %s", err);
    qw_config_free(&c);
    CHECK(qw_config_parse("cfg", "{\"model_type\":\"qwen3\"", 21, &c, err, sizeof err) == QWENC_EFORMAT &&
              strstr(err, "cfg:1:21: invalid JSON"), "truncated config text: %s", err);
}

/* Every f16 bit pattern against the definition: (-1)^s * 2^(e-15) * 1.m,
 * subnormals 2^-14 * 0.m. */
static void test_f16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        double want = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
        if (s) want = -want;
        float got = qw_f16_to_f32((uint16_t)h);
        if (isnan(want) ? !isnan(got) : (got != (float)want || !signbit(got) != !signbit(want))) bad++;
    }
    CHECK(bad == 0, "f16 -> f32: %d of 65536 values wrong", bad);
    CHECK(qw_bf16_to_f32(0x3f80) == 1.0f && qw_bf16_to_f32(0xc000) == -2.0f, "bf16 -> f32");
}

static void test_routing(void) {
    /* two tokens, four experts, top-2 */
    float logits[8] = {1.0f, 3.0f, 2.0f, 0.0f, /* token 1: */ 0.5f, 0.5f, -1.0f, 4.0f};
    int ids[4];
    float w[4];
    moe_route_topk(logits, 2, 4, 2, 0, ids, w);
    double z0 = exp(1) + exp(3) + exp(2) + exp(0);
    CHECK(ids[0] == 1 && ids[1] == 2, "token 0 picks experts 1, 2 (got %d, %d)", ids[0], ids[1]);
    CHECK(fabs(w[0] - exp(3) / z0) < 1e-6 && fabs(w[1] - exp(2) / z0) < 1e-6,
          "norm_topk_prob false keeps softmax weights over all experts");
    CHECK(ids[2] == 3 && ids[3] == 0, "tie goes to the lower index (got %d, %d)", ids[2], ids[3]);
    moe_route_topk(logits, 2, 4, 2, 1, ids, w);
    CHECK(fabs(w[0] + w[1] - 1) < 1e-6 && fabs(w[0] - exp(3) / (exp(3) + exp(2))) < 1e-6,
          "norm_topk_prob true renormalizes the k weights");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/qwenc-format-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 2; }
    test_safetensors();
    test_config();
    test_from_memory();
    test_routing();
    test_f16();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary();
}
