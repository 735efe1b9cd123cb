#include "cli/conversation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *conv_new(const char *system) {
    json_t *conv = json_array();
    if (conv && system && *system && conv_append(conv, "system", system, strlen(system))) {
        json_decref(conv);
        return NULL;
    }
    return conv;
}

int conv_append(json_t *conv, const char *role, const char *content, size_t len) {
    json_t *text = json_stringn(content, len);
    if (!text) return -1;
    json_t *msg = json_pack("{s:s,s:o}", "role", role, "content", text);
    return msg ? json_array_append_new(conv, msg) : -1;
}

void conv_pop(json_t *conv) {
    size_t n = json_array_size(conv);
    if (n) json_array_remove(conv, n - 1);
}

const char *conv_system(const json_t *conv) {
    json_t *first = json_array_get(conv, 0);
    const char *role = json_string_value(json_object_get(first, "role"));
    if (!role || strcmp(role, "system")) return NULL;
    return json_string_value(json_object_get(first, "content"));
}

void conv_clear(json_t *conv) {
    size_t keep = conv_system(conv) ? 1 : 0;
    while (json_array_size(conv) > keep) conv_pop(conv);
}

int conv_render(const qwenc_tokenizer *tok, const json_t *conv, int think, char **out, char *err,
                size_t errlen) {
    json_t *req = json_pack("{s:O,s:b,s:b}", "messages", conv, "add_generation_prompt", 1,
                            "enable_thinking", think);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return QWENC_ENOMEM;
    }
    int rc = qwenc_chat_render(tok, text, out, err, errlen);
    free(text);
    return rc;
}

int conv_save(const json_t *conv, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return QWENC_EIO;
    }
    int bad = json_dumpf(conv, f, JSON_INDENT(2)) || fputc('\n', f) == EOF;
    if (fclose(f)) bad = 1;
    if (bad) {
        snprintf(err, errlen, "%s: could not write the conversation", path);
        return QWENC_EIO;
    }
    return 0;
}

/* Checks that message i is {role, content} with a known role. */
static int check_message(const json_t *msg, size_t i, const char *path, char *err, size_t errlen) {
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "%s: message %zu is not an object", path, i);
        return QWENC_EFORMAT;
    }
    const char *role = json_string_value(json_object_get(msg, "role"));
    if (!role) {
        snprintf(err, errlen, "%s: message %zu has no \"role\" string", path, i);
        return QWENC_EFORMAT;
    }
    size_t r = 0;
    while (r < sizeof roles / sizeof roles[0] && strcmp(role, roles[r])) r++;
    if (r == sizeof roles / sizeof roles[0]) {
        snprintf(err, errlen, "%s: message %zu has an unknown role \"%s\"", path, i, role);
        return QWENC_EFORMAT;
    }
    if (!json_is_string(json_object_get(msg, "content"))) {
        snprintf(err, errlen, "%s: message %zu has no \"content\" string", path, i);
        return QWENC_EFORMAT;
    }
    return 0;
}

int conv_load(const char *path, json_t **out, char *err, size_t errlen) {
    json_error_t je;
    json_t *conv = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!conv) {
        if (je.line < 0) snprintf(err, errlen, "%s: %s", path, je.text);
        else snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return QWENC_EFORMAT;
    }
    if (!json_is_array(conv)) {
        json_decref(conv);
        snprintf(err, errlen, "%s: not a JSON array of messages", path);
        return QWENC_EFORMAT;
    }
    size_t i;
    json_t *msg;
    json_array_foreach(conv, i, msg) {
        int rc = check_message(msg, i, path, err, errlen);
        if (rc) {
            json_decref(conv);
            return rc;
        }
    }
    *out = conv;
    return 0;
}
