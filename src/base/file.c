#include "base/file.h"
#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int qw_file_map(const char *path, qw_mapped_file *out, char *err, size_t errlen) {
    *out = (qw_mapped_file){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qw_errf(err, errlen, QWENC_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return qw_errf(err, errlen, QWENC_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qw_errf(err, errlen, QWENC_EIO, "%s: not a regular file", path);
    }
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

int qw_file_read_all(const char *path, char **data, size_t *size, char *err, size_t errlen) {
    *data = NULL;
    if (size) *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return qw_errf(err, errlen, QWENC_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return qw_errf(err, errlen, QWENC_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            fclose(fp);
            return qw_errf(err, errlen, QWENC_ENOMEM, "%s: out of memory", path);
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return qw_errf(err, errlen, QWENC_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    if (size) *size = n;
    return 0;
}

int qw_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int qw_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
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
