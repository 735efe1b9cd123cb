/* Files: read-only memory maps (weights are used in place) and small reads. */
#ifndef QW_BASE_FILE_H
#define QW_BASE_FILE_H

#include <stddef.h>

typedef struct {
    const unsigned char *data;  /* NULL for an empty file */
    size_t size;
    /* 1: data is a caller's buffer (a file parsed from memory), which
     * qw_file_unmap leaves alone. */
    int borrowed;
} qw_mapped_file;

int qw_file_map(const char *path, qw_mapped_file *out, char *err, size_t errlen);
void qw_file_unmap(qw_mapped_file *f);

/* Reads a whole (small) file into a malloc'd NUL-terminated buffer. */
int qw_file_read_all(const char *path, char **data, size_t *size, char *err, size_t errlen);

int qw_file_exists(const char *path);
int qw_is_dir(const char *path);

/* malloc'd "dir/name". */
char *qw_path_join(const char *dir, const char *name);

#endif
