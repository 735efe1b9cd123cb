/* The streaming reply parser: splits generated output into content,
 * reasoning (inside <think> ... </think>) and tool calls (<tool_call> JSON
 * </tool_call>), keyed on the marker token ids, never on substrings of text
 * (a model that writes "<tool_call>" as ordinary tokens, say in a code
 * block, writes content).
 *
 * The parser emits events as soon as it can; the non-streamed reply is the
 * concatenation of exactly the events the streamed one sends, so the two are
 * equal by construction, however the text is cut into pieces.
 *
 * The fine points:
 * - A segment is a reasoning block (think_open, or the start when the prompt
 *   left a think block open, up to think_close or the end) or a run of
 *   content between markers. Newlines ("\n" only, never spaces: indentation
 *   matters) at the start and end of every segment are trimmed, as Qwen's
 *   model card does with .strip("\n"). Trailing newlines are held back until
 *   non-newline text follows in the same segment; nothing else is held.
 * - think_open inside a reasoning block and think_close outside one are
 *   ignored (no text, no segment boundary).
 * - Inside a reasoning block the tool markers are reasoning text
 *   ("<tool_call>", "</tool_call>"): Qwen3 does not call tools while thinking.
 * - Outside, tool_open starts a call whose body is buffered, never emitted
 *   while buffering, and parsed at tool_close: a JSON object with "name" (a
 *   non-empty string without U+0000) and "arguments" (an object, whose exact
 *   text is passed; or a string holding a JSON object, whose decoded value is
 *   passed; missing: "{}"). Think markers inside a body are body text.
 * - A call that is malformed, unclosed at the end, interrupted by another
 *   tool_open (which starts a new call), or whose body passes
 *   REPLY_MAX_TOOL_BODY is content: "<tool_call>" + body (+ "</tool_call>"
 *   when closed), as if the model had written it as text, so nothing is
 *   lost; the newlines before it then belong to its content segment. An
 *   oversized body is released at once and the rest streams as content; the
 *   tool_close that ends it, like any stray tool_close, is the text
 *   "</tool_call>".
 * - Content that is only newlines (between two calls, say) emits nothing.
 *
 * The caller decodes ordinary tokens to text (flushing its UTF-8 decoder
 * before each marker) and passes markers by id. Event pointers are valid
 * only during the callback. */
#ifndef QW_SERVER_REPLY_H
#define QW_SERVER_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"

/* Beyond this many bytes a tool-call body is malformed (a runaway model must
 * not eat memory). */
#define REPLY_MAX_TOOL_BODY ((size_t)1 << 20)

typedef struct {
    int32_t think_open, think_close, tool_open, tool_close;  /* -1 when absent */
} reply_ids;

/* Looks the four ids up by their text (<think>, </think>, <tool_call>,
 * </tool_call>) with qwenc_token_id. */
void reply_ids_from_tokenizer(const qwenc_tokenizer *t, reply_ids *out);

/* 1 when the prompt leaves the model inside a think block: the last
 * think_open of the prompt has no think_close after it (templates that put
 * "<think>\n" in the generation prompt); 0 otherwise (enable_thinking: false
 * templates close the block, so nothing is routed to reasoning). */
int reply_prompt_in_think(const reply_ids *ids, const int32_t *prompt, int n);

typedef enum { REPLY_CONTENT, REPLY_REASONING, REPLY_TOOL_CALL } reply_kind;

typedef struct {
    reply_kind kind;
    const char *text;               /* CONTENT / REASONING: a piece of text (may contain U+0000) */
    size_t len;
    int tool_index;                 /* TOOL_CALL: 0, 1, ... in order */
    const char *name;               /* TOOL_CALL: function name, NUL-terminated */
    const char *arguments;          /* TOOL_CALL: the arguments as JSON text (OpenAI's function.arguments) */
    size_t arguments_len;
} reply_event;

typedef void (*reply_emit_fn)(void *ctx, const reply_event *ev);

typedef struct reply_parser reply_parser;

/* start_in_think: what reply_prompt_in_think said of the prompt. NULL when
 * out of memory. */
reply_parser *reply_parser_new(const reply_ids *ids, int start_in_think, reply_emit_fn emit, void *ctx);
void reply_parser_free(reply_parser *p);

/* 1 when id is one of the four marker ids. */
int reply_is_marker(const reply_ids *ids, int32_t id);

/* A marker token was generated. */
void reply_parser_marker(reply_parser *p, int32_t id);

/* Decoded text of ordinary tokens, in order. */
void reply_parser_text(reply_parser *p, const char *text, size_t len);

/* End of generation: an unclosed call becomes content, held newlines are
 * dropped. Later calls do nothing. */
void reply_parser_finish(reply_parser *p);

int reply_parser_n_tool_calls(const reply_parser *p);
int reply_parser_in_reasoning(const reply_parser *p);  /* inside a think block */
int reply_parser_in_tool_call(const reply_parser *p);  /* buffering a call body */

#endif
