/* The database claim of db_lock.h: the row, its liveness, the heartbeat. */
#include "db_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db_int.h"
#include "err.h"

/* How often a claimant looks again while it waits for a live holder. */
#define QS_LOCK_POLL_S 1.0

double qs_db_lock_now(void) { return qs_wall_s(); }

static void my_host(char *out, size_t cap)
{
    out[0] = 0;
    gethostname(out, cap - 1);
    out[cap - 1] = 0;
}

static void copy_col(char *out, size_t cap, sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", v ? (const char *)v : "");
}

int qs_db_holder_get(qs_db_holder *out, int *known, sqlite3 *h)
{
    sqlite3_stmt *st = NULL;
    int rc = QS_OK;
    memset(out, 0, sizeof *out);
    *known = 0;
    if (sqlite3_prepare_v2(h, "SELECT host, pid, coalesce(sweep, ''), token, since, "
                           "heartbeat FROM coordinator WHERE id = 1", -1, &st, NULL) != SQLITE_OK) {
        const char *m = sqlite3_errmsg(h);
        rc = strstr(m, "no such table") ? QS_OK : qs_err(QS_EIO, "%s", m);
        goto cleanup;
    }
    *known = 1;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        out->present = 1;
        copy_col(out->host, sizeof out->host, st, 0);
        out->pid = sqlite3_column_int64(st, 1);
        copy_col(out->sweep, sizeof out->sweep, st, 2);
        copy_col(out->token, sizeof out->token, st, 3);
        out->since = sqlite3_column_double(st, 4);
        out->heartbeat = sqlite3_column_double(st, 5);
    } else if (s != SQLITE_DONE) {
        rc = qs_err(QS_EIO, "%s", sqlite3_errmsg(h));
    }
cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* A killed rank 0 whose parent (hydra's proxy) died too can stay a zombie
 * until something reaps it, and kill(pid, 0) succeeds on a zombie. */
static int pid_gone(long long pid)
{
    char path[64], buf[512];
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH; /* EPERM: alive, another user's */
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *e = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    return e && e[1] == ' ' && (e[2] == 'Z' || e[2] == 'X');
}

int qs_db_holder_alive(const qs_db_holder *h, double now)
{
    char host[64];
    if (!h->present || now - h->heartbeat > QS_LOCK_STALE_S)
        return 0;
    my_host(host, sizeof host);
    /* On the holder's own host a dead pid settles it without waiting out
     * the heartbeat bound. */
    if (strcmp(host, h->host) == 0 && h->pid > 0 && pid_gone(h->pid))
        return 0;
    return 1;
}

void qs_db_holder_describe(char *out, size_t cap, const qs_db_holder *h, double now)
{
    char since[32] = "?";
    time_t t = (time_t)h->since;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(out, cap, "host %s, pid %lld, sweep \"%s\", since %s, last heartbeat %.0f s ago",
             h->host, h->pid, h->sweep, since, now - h->heartbeat);
}

void qs_db_busy_describe(char *out, size_t cap, sqlite3 *h)
{
    qs_db_holder who;
    char d[320];
    int known;
    double now = qs_db_lock_now();
    /* A read needs no lock in WAL mode, so the holder's row is readable
     * while its transaction is open. */
    if (qs_db_holder_get(&who, &known, h) == QS_OK && who.present) {
        qs_db_holder_describe(d, sizeof d, &who, now);
        snprintf(out, cap, "database is locked by another writer for over %.0f s; the "
                 "claimed coordinator is %s%s", QS_DB_BUSY_MS / 1000.0, d,
                 qs_db_holder_alive(&who, now)
                     ? " (a coordinator writes in short transactions: one that holds the "
                       "lock this long is stopped or hung, e.g. by SIGSTOP)"
                     : " (not running: the lock is held by another process, e.g. a "
                       "sqlite3 shell with an open transaction)");
    } else {
        snprintf(out, cap, "database is locked by another writer for over %.0f s (no "
                 "coordinator claims this file: another process, e.g. a sqlite3 shell "
                 "with an open transaction, holds it)", QS_DB_BUSY_MS / 1000.0);
    }
}

static void new_token(char *out)
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof b) { /* still unique enough: time and pid */
        unsigned long long x = (unsigned long long)(qs_db_lock_now() * 1e6) ^
                               ((unsigned long long)getpid() << 40);
        for (size_t i = 0; i < sizeof b; i++, x = x * 6364136223846793005ULL + 1)
            b[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}


/* One attempt inside one write transaction, so two claimants cannot both
 * see the row free. QS_EBUSY with *holder filled when a live one has it. */
static int try_claim(qs_db *db, const char *sweep, const char *token, qs_db_holder *holder)
{
    sqlite3_stmt *st = NULL;
    char host[64];
    int rc;
    double now = qs_db_lock_now();
    if ((rc = qs_db_exec_sql(db->h, db->path, "BEGIN IMMEDIATE")))
        return rc;
    int known;
    if ((rc = qs_db_holder_get(holder, &known, db->h))) {
        rc = qs_err_wrap(rc, "%s", db->path);
        goto cleanup;
    }
    if (qs_db_holder_alive(holder, now)) {
        rc = QS_EBUSY;
        goto cleanup;
    }
    my_host(host, sizeof host);
    if (sqlite3_prepare_v2(db->h, "INSERT OR REPLACE INTO coordinator(id, host, pid, sweep, "
                           "token, since, heartbeat) VALUES (1, ?, ?, ?, ?, ?, ?)", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (long long)getpid());
    sqlite3_bind_text(st, 3, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, token, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, now);
    sqlite3_bind_double(st, 6, now);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
        goto cleanup;
    }
    rc = qs_db_exec_sql(db->h, db->path, "COMMIT");
cleanup:
    sqlite3_finalize(st);
    if (rc)
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void set_lost(qs_db_lock *l, int code, const char *msg)
{
    pthread_mutex_lock(&l->mu);
    if (!l->lost) {
        l->lost = code;
        snprintf(l->lost_msg, sizeof l->lost_msg, "%s", msg);
    }
    pthread_mutex_unlock(&l->mu);
}

/* The heartbeat has a connection of its own, so a beat never waits for the
 * coordinator's loop (with one rank that loop trains for minutes). */
static void *beat_main(void *arg)
{
    qs_db_lock *l = arg;
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    char msg[256];
    if (sqlite3_open_v2(l->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(h, QS_DB_BUSY_MS) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "UPDATE coordinator SET heartbeat = ? WHERE id = 1 AND token = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(msg, sizeof msg, "%s: heartbeat: %s", l->path,
                 h ? sqlite3_errmsg(h) : "out of memory");
        set_lost(l, QS_EIO, msg);
        goto cleanup;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)QS_LOCK_BEAT_S;
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->quit)
            break;
        pthread_mutex_unlock(&l->mu);
        sqlite3_bind_double(st, 1, qs_db_lock_now());
        sqlite3_bind_text(st, 2, l->token, -1, SQLITE_STATIC);
        int s = sqlite3_step(st);
        int changed = sqlite3_changes(h);
        sqlite3_reset(st);
        if (s != SQLITE_DONE) {
            snprintf(msg, sizeof msg, "%s: heartbeat: %s", l->path, sqlite3_errmsg(h));
            set_lost(l, QS_EIO, msg);
        } else if (changed == 0) {
            snprintf(msg, sizeof msg, "%s: another coordinator took over this database's "
                     "claim (this one missed its heartbeat for %.0f s?)", l->path,
                     QS_LOCK_STALE_S);
            set_lost(l, QS_EBUSY, msg);
        }
        pthread_mutex_lock(&l->mu);
        if (l->lost)
            break;
    }
    pthread_mutex_unlock(&l->mu);
cleanup:
    sqlite3_finalize(st);
    sqlite3_close(h);
    return NULL;
}

int qs_db_lock_claim(qs_db_lock *out, qs_db *db, const char *sweep, double wait_s,
                     const volatile int *cancel, char *note, size_t note_cap)
{
    qs_db_holder holder;
    char who[320];
    int rc;
    double t0 = qs_db_lock_now();
    memset(out, 0, sizeof *out);
    if (note_cap)
        note[0] = 0;
    new_token(out->token);
    while ((rc = try_claim(db, sweep, out->token, &holder)) == QS_EBUSY &&
           qs_db_lock_now() - t0 < wait_s) {
        struct timespec ts = {(time_t)QS_LOCK_POLL_S, 0};
        nanosleep(&ts, NULL);
        if (cancel && *cancel)
            return qs_err(QS_EINTR, "stopped while waiting for the database claim");
    }
    double now = qs_db_lock_now();
    if (rc == QS_EBUSY) {
        qs_db_holder_describe(who, sizeof who, &holder, now);
        return qs_err(QS_EBUSY, "%s is in use by another coordinator (%s); refused: one "
                      "coordinator per database (its claim is taken over once it is gone: "
                      "its pid ended, or its heartbeat %.0f s old)", db->path, who,
                      QS_LOCK_STALE_S);
    }
    if (rc)
        return rc;
    if (holder.present && note_cap) {
        qs_db_holder_describe(who, sizeof who, &holder, now);
        snprintf(note, note_cap, "took over the stale claim of a coordinator that is gone (%s)", who);
    }
    if (!(out->path = strdup(db->path)))
        return qs_err(QS_ENOMEM, "out of memory");
    pthread_mutex_init(&out->mu, NULL);
    pthread_cond_init(&out->cv, NULL);
    if (pthread_create(&out->thread, NULL, beat_main, out) != 0) {
        qs_db_lock_release(out, db);
        return qs_err(QS_EINTERNAL, "cannot start the heartbeat thread");
    }
    out->started = 1;
    return QS_OK;
}

int qs_db_lock_check(qs_db_lock *l)
{
    int rc;
    pthread_mutex_lock(&l->mu);
    rc = l->lost ? qs_err(l->lost, "%s", l->lost_msg) : QS_OK;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void qs_db_lock_release(qs_db_lock *l, qs_db *db)
{
    sqlite3_stmt *st = NULL;
    if (!l->path)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    /* Best effort: a row left behind (disk full) is stale once this pid
     * is gone. */
    if (db && db->h && sqlite3_prepare_v2(db->h, "DELETE FROM coordinator WHERE id = 1 AND "
                                          "token = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, l->token, -1, SQLITE_STATIC);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->path);
    l->path = NULL;
}

const char *qs_sweep_state_name(int state)
{
    static const char *names[] = {"running", "stopped", "finished", "interrupted"};
    return state >= 0 && state <= QS_SWEEP_INTERRUPTED ? names[state] : "unknown";
}

int qs_db_claim_view_get(qs_db_claim_view *out, sqlite3 *h, double now)
{
    int rc = qs_db_holder_get(&out->h, &out->known, h);
    out->alive = rc == QS_OK && qs_db_holder_alive(&out->h, now);
    return rc;
}

int qs_running_is_live(const qs_db_claim_view *v) { return !v->known || v->alive; }

int qs_db_running_is_live(sqlite3 *h)
{
    qs_db_claim_view v;
    if (qs_db_claim_view_get(&v, h, qs_db_lock_now()))
        return -1;
    return qs_running_is_live(&v);
}

int qs_sweep_state(const qs_db_claim_view *v, const char *name, int left, int running, int ended)
{
    if (left == 0)
        return QS_SWEEP_FINISHED;
    if (!v->known) /* as before the claim existed: by the rows alone */
        return running > 0 || !ended ? QS_SWEEP_RUNNING : QS_SWEEP_STOPPED;
    if (v->alive && strcmp(v->h.sweep, name) == 0)
        return QS_SWEEP_RUNNING;
    return ended ? QS_SWEEP_STOPPED : QS_SWEEP_INTERRUPTED;
}
