#include "base/file.h"
#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a path is when it is not a regular file, for messages. */
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

/* Opens a regular file for reading. O_NONBLOCK: opening a FIFO must not wait
 * for a writer (it has no effect on regular files); anything but a regular
 * file is refused by its type before a byte is read. */
static int open_regular(const char *path, struct stat *st, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return qw_errf(err, errlen, QWENC_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return qw_errf(err, errlen, QWENC_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return qw_errf(err, errlen, QWENC_EIO, "%s: not a regular file (%s)", path, file_kind(st->st_mode));
    }
    return fd;
}

int qw_file_map(const char *path, qw_mapped_file *out, char *err, size_t errlen) {
    *out = (qw_mapped_file){0};
    struct stat st;
    int fd = open_regular(path, &st, err, errlen);
    if (fd < 0) return fd;
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return qw_errf(err, errlen, QWENC_EIO, "%s: mmap failed: %s", path, strerror(e));
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);  /* the mapping keeps the file alive */
    return 0;
}

void qw_file_unmap(qw_mapped_file *f) {
    if (f->data && !f->borrowed) munmap((void *)f->data, f->size);
    *f = (qw_mapped_file){0};
}

int qw_anon_map(size_t size, qw_mapped_file *out) {
    *out = (qw_mapped_file){0};
    if (!size) return 0;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return QWENC_ENOMEM;
    out->data = p;
    out->size = size;
    return 0;
}

void qw_anon_seal(qw_mapped_file *f) {
    if (f->data) mprotect((void *)f->data, f->size, PROT_READ);
}

void qw_pages_release(const void *p, size_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t page = pg > 0 ? (uintptr_t)pg : 4096, a = ((uintptr_t)p + page - 1) / page * page,
              b = ((uintptr_t)p + n) / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

int qw_file_read_all(const char *path, char **data, size_t *size, char *err, size_t errlen) {
    *data = NULL;
    if (size) *size = 0;
    struct stat st;
    int fd = open_regular(path, &st, err, errlen);
    if (fd < 0) return fd;
    if (st.st_size > QW_FILE_MAX_SMALL) {
        close(fd);
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: %lld bytes, more than the %d MiB a JSON or text file may have",
                       path, (long long)st.st_size, QW_FILE_MAX_SMALL >> 20);
    }
    /* The size is a hint: the file may change while it is read. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return qw_errf(err, errlen, QWENC_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return qw_errf(err, errlen, QWENC_EIO, "%s: read error: %s", path, strerror(e));
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n == cap) {
            if (n > QW_FILE_MAX_SMALL) {
                free(buf);
                close(fd);
                return qw_errf(err, errlen, QWENC_EFORMAT, "%s: more than the %d MiB a JSON or text file may have",
                               path, QW_FILE_MAX_SMALL >> 20);
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                close(fd);
                return qw_errf(err, errlen, QWENC_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    if (size) *size = n;
    return 0;
}

int qw_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int qw_path_present(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

int qw_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int qw_is_regular(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int qw_dir_check(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0)
        return qw_errf(err, errlen, QWENC_EIO, "%s: %s", path,
                       errno == ENOENT ? "not a model directory (no such directory)" : strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return qw_errf(err, errlen, QWENC_EIO, "%s: not a model directory (%s)", path,
                       S_ISREG(st.st_mode) ? "a regular file" : file_kind(st.st_mode));
    return 0;
}

char *qw_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}
