#include "http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QS_STATIC_MAX_BYTES (8 << 20)

static int has_index(const char *dir)
{
    char p[PATH_MAX];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s/index.html", dir) >= (int)sizeof p)
        return 0;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int qs_static_find_webdir(const char *flag, char *out, size_t n)
{
    if (flag) {
        if (!has_index(flag))
            return qs_err(QS_EIO, "--web %s: no index.html there", flag);
        if (!realpath(flag, out) || strlen(out) >= n)
            return qs_err(QS_EIO, "--web %s: %s", flag, strerror(errno));
        return QS_OK;
    }
    /* Next to the binary: bin/qsweep -> web/ in a checkout, and
     * PREFIX/bin/qsweep -> PREFIX/web in a relocated install. */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 8];
            snprintf(cand, sizeof cand, "%s/../web", exe);
            if (has_index(cand) && realpath(cand, out) && strlen(out) < n)
                return QS_OK;
        }
    }
    /* Resolved like the others: qs_static_get compares files against it. */
    if (has_index("/usr/share/qsweep/web") && realpath("/usr/share/qsweep/web", out) && strlen(out) < n)
        return QS_OK;
    return qs_err(QS_EIO, "no web directory with index.html found next to the binary (../web) or "
                          "in /usr/share/qsweep/web; give one with --web DIR");
}

void qs_static_find_chartjs(char *out, size_t n)
{
    /* Debian 12 ships Chart.js 3 as chart.min.js / chart.js; Chart.js 4
     * packages name the same UMD build chart.umd.js. */
    static const char *const cands[] = {
        "/usr/share/javascript/chart.js/chart.umd.js",
        "/usr/share/javascript/chart.js/chart.min.js",
        "/usr/share/javascript/chart.js/chart.js",
        "/usr/share/javascript/chart.js/Chart.min.js",
        "/usr/share/javascript/chart.js/Chart.js",
    };
    struct stat sb;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (stat(cands[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            snprintf(out, n, "%s", cands[i]);
            return;
        }
}

static const char *mime(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".json", "application/json; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

/* A flat file name of safe characters, not starting with a dot. */
static int safe_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return strstr(s, "..") == NULL;
}

/* flags: O_NOFOLLOW for a web file, whose path is already resolved (so a
 * symlink swapped in after the check is not followed either). */
static int read_file(const char *path, int flags, qs_resp *resp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    int rc = QS_OK;
    struct stat sb;
    if (fd < 0)
        return QS_EIO;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > QS_STATIC_MAX_BYTES) {
        rc = QS_EIO;
        goto cleanup;
    }
    qs_buf_reset(&resp->body);
    char chunk[65536];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0)
        qs_buf_add(&resp->body, chunk, (size_t)got);
    if (got < 0)
        rc = QS_EIO;
    else
        rc = qs_buf_ok(&resp->body);
cleanup:
    close(fd);
    return rc;
}

/* out: the file name resolved, when it is inside webdir (itself a
 * resolved path): a symlink in the web directory may point at another of
 * its files, never out of it. */
static int resolve_inside(const char *webdir, const char *name, char *out)
{
    char file[PATH_MAX];
    size_t n = strlen(webdir);
    if (snprintf(file, sizeof file, "%s/%s", webdir, name) >= (int)sizeof file || !realpath(file, out))
        return QS_EIO;
    if (strncmp(out, webdir, n) != 0 || out[n] != '/' || strchr(out + n + 1, '/'))
        return QS_EIO;
    return QS_OK;
}

int qs_static_get(const char *webdir, const char *chartjs, const char *path, qs_resp *resp)
{
    char file[PATH_MAX];
    const char *name;
    int flags = 0;
    if (!strcmp(path, "/static/chart.js")) {
        if (!chartjs || !chartjs[0]) {
            qs_resp_error(resp, 404, NULL,
                          "Chart.js is not installed (Debian package libjs-chart.js; make setup)");
            return QS_OK;
        }
        snprintf(file, sizeof file, "%s", chartjs);
        name = "chart.js";
    } else {
        name = !strcmp(path, "/") ? "index.html" : path + 1;
        if (!safe_name(name) || !mime(name) || resolve_inside(webdir, name, file) != QS_OK) {
            qs_resp_error(resp, 404, NULL, "not found");
            return QS_OK;
        }
        flags = O_NOFOLLOW;
    }
    if (read_file(file, flags, resp) != QS_OK) {
        qs_resp_error(resp, 404, NULL, "not found");
        return QS_OK;
    }
    resp->status = 200;
    resp->ctype = mime(name);
    return QS_OK;
}
