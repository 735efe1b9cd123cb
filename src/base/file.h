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

/* Maps a regular file; anything else (a directory, a FIFO, a device) is
 * refused by its type, without waiting on it. */
int qw_file_map(const char *path, qw_mapped_file *out, char *err, size_t errlen);
void qw_file_unmap(qw_mapped_file *f);

/* Anonymous read-write memory of size bytes, page-aligned and zeroed, as a
 * qw_mapped_file (so qw_file_unmap releases it); 0 or QWENC_ENOMEM. */
int qw_anon_map(size_t size, qw_mapped_file *out);
/* Makes such memory read-only, as a file mapping is. */
void qw_anon_seal(qw_mapped_file *f);

/* Returns the pages wholly inside [p, p + n) of a read-only mapping to the
 * system (madvise MADV_DONTNEED): a file mapping reads them back from the
 * file if they are touched again, an anonymous one reads zeros, so the
 * caller must be done with the bytes. Best effort: errors are ignored. */
void qw_pages_release(const void *p, size_t n);

/* Reads a whole (small) file into a malloc'd NUL-terminated buffer. */
int qw_file_read_all(const char *path, char **data, size_t *size, char *err, size_t errlen);

#define QW_FILE_MAX_SMALL (256 << 20)

int qw_file_exists(const char *path);
/* The name exists, even as a dangling or looping symlink (opening it then says why it cannot be read). */
int qw_path_present(const char *path);
int qw_is_dir(const char *path);
int qw_is_regular(const char *path);
/* 0 when path is a directory; else QWENC_EIO naming why (no such file, a
 * symlink loop, a regular file, a FIFO). */
int qw_dir_check(const char *path, char *err, size_t errlen);

/* malloc'd "dir/name". */
char *qw_path_join(const char *dir, const char *name);

#endif
