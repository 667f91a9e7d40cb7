#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a plain file";
}

int qs_read_file(char **out, size_t *len, const char *path, size_t max)
{
    struct stat st;
    char *buf = NULL;
    int fd, rc = QS_OK;

    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer forever; fstat then tells what was opened. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return qs_err(QS_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = qs_err(QS_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = qs_err(QS_EIO, "%s: not a regular file (%s)", path, kind_of(st.st_mode));
        goto cleanup;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = qs_err(QS_EINVAL, "%s: %lld bytes, more than the %zu allowed",
                    path, (long long)st.st_size, max);
        goto cleanup;
    }
    size_t n = (size_t)st.st_size;
    if (!(buf = malloc(n + 1))) {
        rc = qs_err(QS_ENOMEM, "%s: out of memory for %zu bytes", path, n);
        goto cleanup;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = qs_err(QS_EIO, "%s: read failed: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got != n) {
        rc = qs_err(QS_EIO, "%s: read %zu of %zu bytes (file shrank while reading)", path,
                    got, n);
        goto cleanup;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    buf = NULL;
cleanup:
    close(fd);
    free(buf);
    return rc;
}

int qs_check_output(const char *path, const char *flag)
{
    struct stat st;
    /* The output is written as PATH.tmp and renamed over PATH: a directory
     * (or a FIFO...) there would fail the rename only at the end. */
    if (path && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return qs_err(QS_EINVAL, "%s %s: is %s, not a file it can replace", flag, path,
                      kind_of(st.st_mode));
    return QS_OK;
}
