/* JSON files through jansson, with errors that name the file and line. */
#ifndef QW_BASE_JSON_H
#define QW_BASE_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Parses a JSON file; on failure err says "path:line:col: reason". */
int qw_json_load_file(const char *path, json_t **out, char *err, size_t errlen);

/* Parses JSON text of length len (what names the source in errors). */
int qw_json_parse(const char *what, const char *text, size_t len, json_t **out,
                  char *err, size_t errlen);

#endif
