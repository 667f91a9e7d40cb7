/* The coordinator's claim on a results database (docs/cluster.md, "One
 * coordinator per database"). One row in the `coordinator` table names the
 * holder: host, pid, sweep, since when, and a heartbeat the holder renews
 * every QS_LOCK_BEAT_S seconds. A claim is alive while its heartbeat is
 * younger than QS_LOCK_STALE_S and, when the holder is on this host, its
 * pid exists; a claim that is not alive is taken over. Readers (status, the
 * dashboard) judge liveness from what they read and never write. */
#ifndef QS_DB_LOCK_H
#define QS_DB_LOCK_H

#include <pthread.h>

#include "db.h"

#define QS_LOCK_BEAT_S 2.0
/* Many missed beats, so a loaded machine or a slow disk never looks dead;
 * clocks of the hosts involved must agree to well within this. */
#define QS_LOCK_STALE_S 30.0

typedef struct {
    int present;           /* a row exists */
    char host[64];
    long long pid;
    char sweep[128];
    char token[33];
    double since, heartbeat; /* unix seconds */
} qs_db_holder;

/* The current claim (present = 0 when none). *known = 0 when the file
 * predates the table (a coordinator of an earlier qsweep may be running:
 * nothing can be told). Works on a read-only connection. */
int qs_db_holder_get(qs_db_holder *out, int *known, sqlite3 *h);
/* Is the claim's holder running, as far as this process can tell at `now`? */
int qs_db_holder_alive(const qs_db_holder *h, double now);
/* "host H, pid P, sweep "S", since T, last heartbeat N s ago" */
void qs_db_holder_describe(char *out, size_t cap, const qs_db_holder *h, double now);
double qs_db_lock_now(void);
/* Why a write on h found the file locked (SQLITE_BUSY past the busy
 * timeout): the coordinator that holds the claim, with its heartbeat's age
 * (a stopped or hung one keeps its transaction open), or, when no live
 * claim is recorded, a writer that is not a coordinator. */
void qs_db_busy_describe(char *out, size_t cap, sqlite3 *h);

/* What readers show (qsweep status, /api/sweeps), from the claim as read. */
typedef struct {
    int known;             /* the file has the claim table */
    int alive;             /* its holder is running */
    qs_db_holder h;
} qs_db_claim_view;

enum { QS_SWEEP_RUNNING, QS_SWEEP_STOPPED, QS_SWEEP_FINISHED, QS_SWEEP_INTERRUPTED };
/* "running", "stopped", "finished", "interrupted" */
const char *qs_sweep_state_name(int state);

int qs_db_claim_view_get(qs_db_claim_view *out, sqlite3 *h, double now);
/* A sweep with `left` phases queued or running, `running` of them running;
 * `ended`: its last run recorded its end (finished >= started). Finished
 * when nothing is left; running while the live holder runs it; stopped
 * when its last run ended; else interrupted: its coordinator is gone. */
int qs_sweep_state(const qs_db_claim_view *v, const char *name, int left, int running,
                   int ended);
/* Whether 'running' rows are running: only the live holder's are (one
 * coordinator per database). 0: show them as interrupted. */
int qs_running_is_live(const qs_db_claim_view *v);
/* The same for a connection: 1 live, 0 interrupted, -1 on a read error. */
int qs_db_running_is_live(sqlite3 *h);

typedef struct {
    char *path;
    char token[33];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, quit;
    int lost;              /* set by the heartbeat: QS_EBUSY (taken over) or QS_EIO */
    char lost_msg[256];
} qs_db_lock;

/* Claims db for a coordinator of `sweep`, waiting up to wait_s seconds for
 * a live holder to go (0: refuse at once; a set *cancel ends the wait:
 * QS_EINTR). QS_EBUSY names the holder. On success a thread renews the
 * heartbeat over its own connection until qs_db_lock_release. `note` gets
 * a line when a stale claim is taken over. */
int qs_db_lock_claim(qs_db_lock *out, qs_db *db, const char *sweep, double wait_s,
                     const volatile int *cancel, char *note, size_t note_cap);
/* QS_OK while the claim holds; else the heartbeat's error, with message. */
int qs_db_lock_check(qs_db_lock *l);
/* Stops the heartbeat and deletes the row if it is still ours. */
void qs_db_lock_release(qs_db_lock *l, qs_db *db);

#endif
