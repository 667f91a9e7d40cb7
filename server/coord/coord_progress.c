/* The coordinator's progress line on stderr: counts, the measured rates
 * (images and synthetic points apart) and an ETA from the measured compute
 * rate. docs/cluster.md, "Watching it", documents the line. */
#include "coord_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "parse.h"
#include "proto.h" /* QS_M_* */

#define QS_PROGRESS_DEFAULT_S 10.0
#define QS_PROGRESS_TTY_S 2.0
#define QS_PROGRESS_MAX_S 86400.0

double qs_coord_progress_interval(void)
{
    const char *s = getenv("QSWEEP_PROGRESS_INTERVAL");
    double v = QS_PROGRESS_DEFAULT_S;
    if (s && qs_parse_double(&v, s, 0, QS_PROGRESS_MAX_S)) {
        fprintf(stderr, "qsweep: QSWEEP_PROGRESS_INTERVAL \"%s\" is not seconds from 0 to %g; "
                "using %g\n", s, QS_PROGRESS_MAX_S, QS_PROGRESS_DEFAULT_S);
        v = QS_PROGRESS_DEFAULT_S;
    }
    return v;
}

void qs_coord_measure(coord *c, int rank, int j, const double *m)
{
    const qs_grid_job *jb = &c->g->jobs[j];
    qs_coord_rate *r = &c->rate[rank];
    /* A zero or missing measurement (an empty epoch) keeps the previous one:
     * a rate of 0 would say the rank is stalled. */
    if (m[QS_M_IMG_PER_S] > 0) {
        r->per_s = m[QS_M_IMG_PER_S];
        r->points = jb->data == QS_DATA_SYNTHETIC;
    }
    if (m[QS_M_SECONDS] > 0 && jb->epochs > 0)
        r->gflop_per_s = jb->gflop / jb->epochs / m[QS_M_SECONDS];
    c->progress_dirty = 1;
}

static void fmt_dur(char *buf, size_t n, double s)
{
    if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* Three significant digits below 100, so a slow rank never prints as 0. */
static void fmt_rate(char *buf, size_t n, double v)
{
    snprintf(buf, n, v >= 100 ? "%.0f" : "%.3g", v);
}

/* "1520 img/s, 310 points/s": one entry per kind a running phase has; "-"
 * for a kind whose ranks have measured nothing yet; "-" when nothing runs. */
static void fmt_rates(char *buf, size_t n, const coord *c)
{
    double sum[2] = {0, 0};
    int running[2] = {0, 0}, measured[2] = {0, 0};
    for (int r = 0; r < c->size; r++) {
        int j = c->worker_job[r];
        if (j < 0)
            continue;
        int k = c->g->jobs[j].data == QS_DATA_SYNTHETIC;
        running[k] = 1;
        if (c->rate[r].per_s > 0 && c->rate[r].points == k) {
            sum[k] += c->rate[r].per_s;
            measured[k] = 1;
        }
    }
    static const char *unit[2] = {"img/s", "points/s"};
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < 2; k++) {
        if (!running[k])
            continue;
        char v[32] = "-";
        if (measured[k])
            fmt_rate(v, sizeof v, sum[k]);
        len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s %s", len ? ", " : "", v,
                                unit[k]);
    }
    if (!len)
        snprintf(buf, n, "-");
}

/* GFLOP left (queued phases, and the epochs running phases have not
 * reported) over the GFLOP/s the running ranks measured; -1: no
 * measurement yet. */
static double eta_s(const coord *c)
{
    double left = 0, rate = 0;
    for (int j = 0; j < c->g->njobs; j++) {
        const qs_grid_job *jb = &c->g->jobs[j];
        if (c->state[j] == J_QUEUED)
            left += jb->gflop;
        else if (c->state[j] == J_RUNNING && jb->epochs > 0)
            left += jb->gflop * (1 - (double)c->epochs_seen[j] / jb->epochs);
    }
    if (left <= 0)
        return 0;
    for (int r = 0; r < c->size; r++)
        if (c->worker_job[r] >= 0)
            rate += c->rate[r].gflop_per_s;
    return rate > 0 ? left / rate : -1;
}

void qs_coord_progress(coord *c, int final)
{
    double t = qs_now_s();
    if (!c->opts->progress)
        return;
    if (final && !c->tty && !c->progress_dirty && c->progress_lines > 0)
        return; /* the last line already says it */
    if (!final) {
        /* A terminal gets its line refreshed in place; a log (mpirun's pipe,
         * a file) a plain line per interval, or per event at interval 0. */
        double every = c->tty ? QS_PROGRESS_TTY_S : c->progress_interval;
        if (every > 0 ? t - c->last_progress < every : !c->progress_dirty)
            return;
    }
    c->last_progress = t;
    c->progress_dirty = 0;
    c->progress_lines++;
    char rates[96], eta[32] = "-";
    fmt_rates(rates, sizeof rates, c);
    double e = eta_s(c);
    if (e >= 0)
        fmt_dur(eta, sizeof eta, e);
    fprintf(stderr, "%sqsweep: %d done, %d running, %d failed, %d queued | %s | ETA %s%s",
            c->tty ? "\r" : "", c->counts[J_DONE], c->counts[J_RUNNING], c->counts[J_FAILED],
            c->counts[J_QUEUED], rates, eta, c->tty && !final ? "   " : "\n");
    fflush(stderr);
}
