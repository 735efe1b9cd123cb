#include "base/json.h"
#include "base/err.h"
#include "base/file.h"

#include <stdlib.h>

int qw_json_parse(const char *what, const char *text, size_t len, json_t **out,
                  char *err, size_t errlen) {
    json_error_t je;
    *out = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!*out)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s:%d:%d: invalid JSON: %s", what, je.line,
                       je.column, je.text);
    return 0;
}

int qw_json_load_file(const char *path, json_t **out, char *err, size_t errlen) {
    char *text;
    size_t n;
    *out = NULL;
    int rc = qw_file_read_all(path, &text, &n, err, errlen);
    if (rc) return rc;
    rc = qw_json_parse(path, text, n, out, err, errlen);
    free(text);
    return rc;
}
