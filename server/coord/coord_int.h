/* The coordinator's private state, shared by coord.c (scheduling, writes)
 * and coord_progress.c (the progress line). */
#ifndef QS_COORD_INT_H
#define QS_COORD_INT_H

#include "coord.h"

enum { J_QUEUED, J_RUNNING, J_DONE, J_FAILED };

/* What a rank last measured, kept across its phases so a rank that just
 * started a phase still has a rate to show (docs/cluster.md, "Watching it"). */
typedef struct {
    double per_s;          /* examples per second; 0: nothing measured yet */
    int points;            /* the examples were synthetic points, not images */
    double gflop_per_s;    /* the phase's GFLOP per epoch / the epoch's seconds */
} qs_coord_rate;

typedef struct {
    qs_grid *g;
    qs_db *db;
    const qs_coord_opts *opts;
    int *state;            /* per job */
    int *parent;           /* per job: parent's index or -1 */
    double *started;       /* per job: wall time this attempt started */
    int *epochs_seen;      /* per job: latest epoch reported */
    int *worker_job;       /* per rank: running job or -1 */
    qs_coord_rate *rate;   /* per rank */
    char (*worker_host)[64]; /* per rank: its hostname, from READY */
    int size;
    int counts[4];
    double t0, last_progress, last_commit;
    double progress_interval; /* seconds between lines on a non-terminal; 0: on each event */
    int tty;               /* stderr is a terminal: one line refreshed in place */
    int progress_dirty;    /* a phase started, reported an epoch or ended since the last line */
    int progress_lines;    /* lines printed so far */
    int in_tx;
    int rc;                /* first database error: ends the sweep */
    char host[64];
} coord;

/* Rank `rank` finished an epoch of job j in m[QS_M_SECONDS] seconds at
 * m[QS_M_IMG_PER_S] examples/s. */
void qs_coord_measure(coord *c, int rank, int j, const double *m);

/* Prints the progress line when it is due; final: the closing line, unless
 * the last one printed already says the same. */
void qs_coord_progress(coord *c, int final);

/* The interval from QSWEEP_PROGRESS_INTERVAL (default 10 s); a bad value
 * is named on stderr and the default kept. */
double qs_coord_progress_interval(void);

#endif
