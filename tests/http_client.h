/* The client side of the tests of `qsweep serve`: bin/qsweep started as a
 * child with its output on pipes, and raw HTTP over sockets to it (no
 * client library, so that any bytes can be sent), from any loopback
 * address. */
#ifndef QS_HTTP_CLIENT_H
#define QS_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_bin[512]; /* bin/qsweep */

/* ------------------------------------------------------------ processes */

typedef struct {
    pid_t pid;
    int out_fd, err_fd;
} proc;

/* Starts bin/qsweep with args; stdout and stderr are pipes, or stderr
 * goes to errfile when given (a long-running server's log). */
static inline int spawn_log(proc *p, char *const args[], const char *errfile)
{
    int o[2], e[2];
    if (pipe(o) || pipe(e))
        return -1;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        dup2(o[1], 1);
        if (errfile) {
            int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd >= 0 ? fd : e[1], 2);
        } else {
            dup2(e[1], 2);
        }
        close(o[0]);
        close(e[0]);
        execv(g_bin, args);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    p->out_fd = o[0];
    p->err_fd = e[0];
    return 0;
}

static inline int spawn(proc *p, char *const args[]) { return spawn_log(p, args, NULL); }

/* Reads fd until it closes or ms pass; returns bytes read into buf. */
static inline size_t read_until(int fd, char *buf, size_t cap, int ms, const char *stop_at)
{
    size_t n = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    buf[0] = '\0';
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0 || n + 1 >= cap)
            break;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)left) <= 0)
            break;
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got <= 0)
            break;
        n += (size_t)got;
        buf[n] = '\0';
        if (stop_at && strstr(buf, stop_at))
            break;
    }
    return n;
}

/* Waits up to ms for the process; returns its exit status or -1. */
static inline int wait_exit(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    return -1;
}

/* ------------------------------------------------------------ HTTP */

/* Seconds a client waits for an answer: the hostile cases lower it, since
 * for some garbage the server's answer is to wait for its idle timeout. */
static int g_recv_timeout = 10;

/* A connection to 127.0.0.1:port from the loopback address src (NULL:
 * the kernel's choice, 127.0.0.1): every 127.x.y.z is this machine, so one
 * test can be several clients to the server's per-address limit. */
static inline int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (src) {
        struct sockaddr_in b = {0};
        b.sin_family = AF_INET;
        inet_pton(AF_INET, src, &b.sin_addr);
        if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {g_recv_timeout, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int connect_port(int port) { return connect_from(NULL, port); }

typedef struct {
    int status;     /* -1: no response (connection closed) */
    char head[4096];
    char *body;     /* malloc'd, NUL-terminated */
    size_t len;
} resp;

static inline void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Sends raw bytes, reads the whole answer (the server closes after an
 * HTTP/1.0 request). */
static inline int raw_request_port(int port, const void *req, size_t reqlen, resp *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    int fd = connect_port(port);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < reqlen) {
        ssize_t w = send(fd, (const char *)req + off, reqlen - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may refuse half-way: read its answer */
        off += (size_t)w;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    int maj, min, code;
    if (n > 12 && sscanf(buf, "HTTP/%d.%d %d", &maj, &min, &code) == 3)
        r->status = code;
    char *sep = strstr(buf, "\r\n\r\n");
    size_t hl = sep ? (size_t)(sep - buf) : n;
    snprintf(r->head, sizeof r->head, "%.*s", (int)(hl < sizeof r->head ? hl : sizeof r->head - 1), buf);
    if (sep) {
        r->len = n - hl - 4;
        r->body = malloc(r->len + 1);
        memcpy(r->body, sep + 4, r->len);
        r->body[r->len] = '\0';
    } else {
        r->body = calloc(1, 1);
    }
    free(buf);
    return 0;
}

static inline int get_port(int port, const char *path, resp *r)
{
    char req[8192];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    return raw_request_port(port, req, (size_t)n, r);
}

/* A header's value (case-insensitive name) from the response head. */
static inline const char *header(const resp *r, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = r->head;
    size_t n = strlen(name);
    while ((p = strchr(p, '\n'))) {
        p++;
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            p += n + 1;
            while (*p == ' ')
                p++;
            size_t l = strcspn(p, "\r\n");
            snprintf(out, cap, "%.*s", (int)l, p);
            return out;
        }
    }
    return out;
}


#endif
