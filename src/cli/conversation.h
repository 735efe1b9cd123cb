/* A chat conversation for the CLI: a jansson array of {"role", "content"}
 * objects in the OpenAI messages format, a system message (if any) first.
 * These helpers build, render, save and load it. */
#ifndef QW_CLI_CONVERSATION_H
#define QW_CLI_CONVERSATION_H

#include <jansson.h>
#include <stddef.h>

#include "qwenc.h"

/* A new conversation, holding only the system message when system is
 * non-NULL and non-empty; NULL when out of memory or system is not UTF-8. */
json_t *conv_new(const char *system);

/* Appends {"role": role, "content": content[0..len)}. Returns 0, or -1 when
 * content is not valid UTF-8 or memory runs out (conversation unchanged). */
int conv_append(json_t *conv, const char *role, const char *content, size_t len);

/* Removes the last message (if any). */
void conv_pop(json_t *conv);

/* Drops every message but a leading system message. */
void conv_clear(json_t *conv);

/* The system message's text, or NULL when there is none. */
const char *conv_system(const json_t *conv);

/* Renders the chat template for the conversation with add_generation_prompt
 * true and enable_thinking = think. *out is malloc'd. */
int conv_render(const qwenc_tokenizer *tok, const json_t *conv, int think, char **out, char *err,
                size_t errlen);

/* Writes the conversation to path as pretty-printed JSON. */
int conv_save(const json_t *conv, const char *path, char *err, size_t errlen);

/* Reads a conversation written by conv_save (or any array of {role, content}
 * objects with a known role and string content). *out is new on success. */
int conv_load(const char *path, json_t **out, char *err, size_t errlen);

#endif
