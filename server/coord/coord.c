/* The coordinator: schedules the phase DAG over the worker ranks, is the
 * only writer of the database, prints progress, and stops cleanly. */
#include "coord_int.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "db_phase.h"
#include "err.h"
#include "job.h"
#include "mpi_msg.h"
#include "svd_model.h"

static void note(coord *c, int rc)
{
    if (rc && c->rc == QS_OK) {
        c->rc = rc;
        fprintf(stderr, "%sqsweep: database error: %s\n", c->tty ? "\n" : "", qs_errmsg());
    }
}

/* Writes are batched: the transaction opens on the first write and commits
 * when the message queue runs dry or after 0.5 s. After the first database
 * error nothing more is written and the open batch is rolled back, so the
 * file holds exactly what was committed before (a rerun redoes the rest)
 * and never half of a phase's result. Returns whether writes may go on. */
static int tx(coord *c)
{
    if (!c->in_tx && c->rc == QS_OK) {
        int rc = qs_db_begin(c->db);
        note(c, rc);
        if (rc == QS_OK) {
            c->in_tx = 1;
            c->last_commit = qs_now_s();
        }
    }
    return c->in_tx && c->rc == QS_OK;
}

static void tx_commit(coord *c)
{
    if (!c->in_tx)
        return;
    c->in_tx = 0;
    if (c->rc == QS_OK)
        note(c, qs_db_commit(c->db));
    if (c->rc)
        qs_db_rollback(c->db);
}

/* A lost claim (taken over, or its heartbeat failed to write) ends the
 * sweep like any database error: another coordinator may be writing. */
static void check_claim(coord *c)
{
    if (c->rc == QS_OK && c->opts->lock)
        note(c, qs_db_lock_check(c->opts->lock));
}

static void set_state(coord *c, int j, int s)
{
    c->progress_dirty = 1;
    c->counts[c->state[j]]--;
    c->state[j] = s;
    c->counts[s]++;
}

/* In memory: j failed, and every queued descendant with it (the database
 * does the same in qs_db_phase_fail). */
static void fail_tree(coord *c, int j)
{
    set_state(c, j, J_FAILED);
    /* Parents come before children in the job list. */
    for (int k = j + 1; k < c->g->njobs; k++)
        if (c->state[k] == J_QUEUED && c->parent[k] >= 0 && c->state[c->parent[k]] == J_FAILED)
            set_state(c, k, J_FAILED);
}

static int parent_of(const coord *c, int j) { return c->parent[j]; }

/* The ready phase with the largest expected cost, or -1. */
static int next_job(const coord *c)
{
    int best = -1;
    for (int j = 0; j < c->g->njobs; j++) {
        if (c->state[j] != J_QUEUED)
            continue;
        int p = parent_of(c, j);
        if (p >= 0 && c->state[p] != J_DONE)
            continue;
        if (best < 0 || c->g->jobs[j].gflop > c->g->jobs[best].gflop)
            best = j;
    }
    return best;
}

/* Loads what a job needs to start: parent's final checkpoint, own latest. */
static int job_inputs(coord *c, int j, uint8_t **parent, size_t *plen, uint8_t **resume,
                      size_t *rlen)
{
    int ep = 0, fin = 0, rc;
    *parent = *resume = NULL;
    *plen = *rlen = 0;
    const qs_grid_job *jb = &c->g->jobs[j];
    if (jb->parent[0]) {
        if ((rc = qs_db_checkpoint_get(c->db, jb->parent, parent, plen, &ep, &fin)))
            return rc;
        if (!*parent)
            return qs_err(QS_EINTERNAL, "parent %s is done but has no checkpoint", jb->parent);
    }
    if ((rc = qs_db_checkpoint_get(c->db, jb->id, resume, rlen, &ep, &fin)))
        return rc;
    return QS_OK;
}

static void on_epoch(coord *c, int j, int rank, int epoch, const double *m)
{
    if (tx(c))
        note(c, qs_db_phase_epoch(c->db, c->g->jobs[j].id, epoch, m));
    c->epochs_seen[j] = epoch;
    if (rank >= 0)
        qs_coord_measure(c, rank, j, m);
}

static void on_ckpt(coord *c, int j, int epoch, const uint8_t *b, size_t n)
{
    if (tx(c))
        note(c, qs_db_checkpoint_put(c->db, c->g->jobs[j].id, epoch, 0, b, n));
}

static void on_done(coord *c, int j, int epochs, const double *m, const uint8_t *ck, size_t ckn,
                    const uint8_t *dm, size_t dmn)
{
    const char *id = c->g->jobs[j].id;
    if (tx(c))
        note(c, qs_db_checkpoint_put(c->db, id, epochs, 1, ck, ckn));
    if (dmn && tx(c))
        note(c, qs_db_decision_map_put(c->db, id, 256, 256, dm, dmn));
    if (c->g->jobs[j].model.bp_learned && tx(c)) {
        /* The learned widths travel in the final checkpoint. */
        qs_bp_layer *bits = NULL;
        int nb = 0, rc = qs_bp_ckpt_layers(&bits, &nb, ck, ckn, "final checkpoint");
        note(c, rc ? rc : qs_db_phase_bits_put(c->db, id, bits, nb));
        free(bits);
    }
    if (c->g->jobs[j].phase == QS_PHASE_COMPRESS && tx(c)) {
        /* The ranks travel in the final checkpoint too. */
        long params = 0;
        char sum[128], list[8 * QS_SVD_MAX_LAYERS];
        int rc = qs_svd_ckpt_ranks(&params, sum, sizeof sum, list, sizeof list, ck, ckn,
                                   "final checkpoint");
        if (rc == QS_OK)
            rc = qs_db_phase_svd_put(c->db, id, c->g->jobs[j].params, params, sum, list);
        note(c, rc);
    }
    if (tx(c))
        note(c, qs_db_phase_done(c->db, id, epochs, m, qs_now_s() - c->started[j]));
    set_state(c, j, J_DONE);
}

static void on_failed(coord *c, int j, const char *error)
{
    if (tx(c))
        note(c, qs_db_phase_fail(c->db, c->g->jobs[j].id, error));
    fprintf(stderr, "%sqsweep: %s %s W%dA%d failed: %s\n", c->tty ? "\n" : "",
            c->g->jobs[j].model_name, qs_phase_name(c->g->jobs[j].phase),
            c->g->jobs[j].model.wbits, c->g->jobs[j].model.abits, error);
    fail_tree(c, j);
}

static void on_start(coord *c, int j, const char *host)
{
    if (tx(c))
        note(c, qs_db_phase_start(c->db, c->g->jobs[j].id, host, c->opts->version));
    set_state(c, j, J_RUNNING);
    c->started[j] = qs_now_s();
}

/* ------------------------------------------------------------ one rank */

typedef struct {
    coord *c;
    int j;
} local_ctx;

static void l_epoch(void *u, const qs_epoch_metrics *e, double bits, double bops)
{
    local_ctx *l = u;
    double m[QS_M_COUNT] = {e->lr, e->train_loss, e->train_acc, e->test_loss, e->test_acc,
                            e->lipschitz, e->seconds, e->img_per_s, bits, bops};
    on_epoch(l->c, l->j, 0, e->epoch, m);
    tx_commit(l->c);
    qs_coord_progress(l->c, 0);
}

static void l_ckpt(void *u, int epoch, const uint8_t *b, size_t n)
{
    local_ctx *l = u;
    on_ckpt(l->c, l->j, epoch, b, n);
    tx_commit(l->c);
}

static int l_interrupt(void *u)
{
    local_ctx *l = u;
    check_claim(l->c);
    return qs_stop_requested || l->c->rc;
}

/* mpirun -n 1: rank 0 coordinates and trains, one phase at a time. */
static int run_local(coord *c)
{
    qs_data_cache cache;
    memset(&cache, 0, sizeof cache);
    int rc = QS_OK, j;
    while (c->rc == QS_OK && !qs_stop_requested && (j = next_job(c)) >= 0) {
        uint8_t *parent, *resume;
        size_t plen, rlen;
        local_ctx l = {c, j};
        qs_job_sink sink = {&l, l_epoch, l_ckpt, l_interrupt, c->opts->ckpt_interval};
        qs_job_result r;
        if ((rc = job_inputs(c, j, &parent, &plen, &resume, &rlen))) {
            note(c, rc);
            break;
        }
        on_start(c, j, c->host);
        c->worker_job[0] = j;
        tx_commit(c);
        rc = qs_job_run(&r, c->g->jobs[j].config, parent, plen, resume, rlen, &sink, &cache);
        c->worker_job[0] = -1;
        if (rc == QS_EINTR) {
            if (tx(c))
                note(c, qs_db_phase_requeue(c->db, c->g->jobs[j].id));
            set_state(c, j, J_QUEUED);
        } else if (rc == QS_OK) {
            double m[QS_M_COUNT] = {r.last.lr, r.last.train_loss, r.last.train_acc,
                                    r.last.test_loss, r.last.test_acc, r.last.lipschitz,
                                    r.last.seconds, r.last.img_per_s, r.model_bits, r.bops};
            on_done(c, j, r.epochs_done, m, r.ckpt, r.ckpt_len, r.dmap, r.dmap_len);
        } else {
            on_failed(c, j, r.error);
        }
        qs_job_result_free(&r);
        tx_commit(c);
        qs_coord_progress(c, 0);
    }
    qs_data_cache_free(&cache);
    return c->rc ? c->rc : qs_stop_requested ? QS_EINTR : QS_OK;
}

/* ------------------------------------------------------------ MPI ranks */

static void send_job(coord *c, int rank, int j)
{
    uint8_t *parent, *resume;
    size_t plen, rlen;
    int rc = job_inputs(c, j, &parent, &plen, &resume, &rlen);
    if (rc) {
        note(c, rc);
        return;
    }
    qs_msg_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.phase_id, c->g->jobs[j].id, sizeof h.phase_id);
    h.len_a = strlen(c->g->jobs[j].config);
    h.len_b = plen;
    h.len_c = rlen;
    on_start(c, j, c->worker_host ? c->worker_host[rank] : "");
    c->worker_job[rank] = j;
    if ((rc = qs_msg_send(rank, QS_MSG_JOB, &h, c->g->jobs[j].config, parent, resume)))
        note(c, rc);
    free(parent);
    free(resume);
}

static int job_of(coord *c, const qs_msg *m)
{
    int j = m->source > 0 && m->source < c->size ? c->worker_job[m->source] : -1;
    if (j < 0 || strncmp(c->g->jobs[j].id, m->h.phase_id, QS_PHASE_ID_LEN) != 0)
        return -1; /* stale or foreign: ignore */
    return j;
}

static void handle(coord *c, qs_msg *m, int *idle)
{
    int j;
    switch (m->tag) {
    case QS_MSG_READY:
        idle[m->source] = 1;
        if (c->worker_host && m->source > 0 && m->source < c->size)
            snprintf(c->worker_host[m->source], 64, "%.*s", (int)sizeof m->h.host, m->h.host);
        break;
    case QS_MSG_EPOCH:
        if ((j = job_of(c, m)) >= 0)
            on_epoch(c, j, m->source, m->h.epoch, m->h.m);
        break;
    case QS_MSG_CKPT:
        if ((j = job_of(c, m)) >= 0 && m->payload)
            on_ckpt(c, j, m->h.epoch, m->payload, m->h.len_a);
        break;
    case QS_MSG_DONE:
        if ((j = job_of(c, m)) >= 0 && m->payload) {
            on_done(c, j, m->h.epoch, m->h.m, m->payload, m->h.len_a,
                    m->payload + m->h.len_a, m->h.len_b);
            c->worker_job[m->source] = -1;
        }
        break;
    case QS_MSG_FAILED:
        if ((j = job_of(c, m)) >= 0) {
            on_failed(c, j, m->payload ? (char *)m->payload : "error: unknown");
            c->worker_job[m->source] = -1;
        }
        break;
    case QS_MSG_STOPPED:
        if ((j = job_of(c, m)) >= 0) {
            if (tx(c))
                note(c, qs_db_phase_requeue(c->db, c->g->jobs[j].id));
            set_state(c, j, J_QUEUED);
            c->worker_job[m->source] = -1;
        }
        idle[m->source] = 0; /* it exits */
        break;
    }
}

/* epoch 1 when a signal stops the sweep: every rank then exits 130, also
 * one the forwarded signal has not reached yet (mpiexec reports 0 when
 * only some ranks say so) */
static void send_stop(int rank)
{
    qs_msg_header h;
    memset(&h, 0, sizeof h);
    h.epoch = qs_stop_requested != 0;
    qs_msg_send(rank, QS_MSG_STOP, &h, NULL, NULL, NULL);
}

/* Every worker answers STOP with STOPPED before it exits, so no message is
 * left unmatched at MPI_Finalize: the loop ends when all have answered. */
static int run_mpi(coord *c)
{
    int *idle = calloc((size_t)c->size, sizeof(int));
    qs_backoff bo;
    int stopping = 0, alive = c->size - 1;
    if (!idle)
        return qs_err(QS_ENOMEM, "out of memory");
    qs_backoff_reset(&bo);
    while (alive > 0) {
        qs_msg m;
        int got = 0;
        while (qs_msg_poll(&m, MPI_ANY_SOURCE, MPI_ANY_TAG)) {
            if (m.tag == QS_MSG_STOPPED)
                alive--;
            handle(c, &m, idle);
            qs_msg_free(&m);
            got = 1;
            if (qs_now_s() - c->last_commit > 0.5)
                break;
        }
        tx_commit(c);
        check_claim(c);
        if (!stopping && (qs_stop_requested || c->rc)) {
            /* Workers abandon their phase within a few batches; it is
             * requeued and resumes from its last checkpoint next time. */
            stopping = 1;
            for (int r = 1; r < c->size; r++)
                send_stop(r);
        }
        if (!stopping) {
            int busy = 0;
            for (int r = 1; r < c->size; r++)
                busy += c->worker_job[r] >= 0;
            for (int r = 1; r < c->size; r++) {
                if (!idle[r] || c->worker_job[r] >= 0)
                    continue;
                int j = next_job(c);
                if (j < 0)
                    break;
                idle[r] = 0;
                send_job(c, r, j);
                busy++;
                got = 1;
            }
            tx_commit(c);
            if (!busy && next_job(c) < 0) {
                stopping = 1; /* every phase ended */
                for (int r = 1; r < c->size; r++)
                    send_stop(r);
            }
        }
        qs_coord_progress(c, 0);
        if (got)
            qs_backoff_reset(&bo);
        else
            qs_backoff_sleep(&bo);
    }
    free(idle);
    return c->rc ? c->rc : qs_stop_requested ? QS_EINTR : QS_OK;
}

void qs_coord_dismiss(int size)
{
    qs_backoff bo;
    int alive = size - 1;
    for (int r = 1; r < size; r++)
        send_stop(r);
    qs_backoff_reset(&bo);
    while (alive > 0) {
        qs_msg m;
        if (qs_msg_poll(&m, MPI_ANY_SOURCE, MPI_ANY_TAG)) {
            alive -= m.tag == QS_MSG_STOPPED;
            qs_msg_free(&m);
            qs_backoff_reset(&bo);
        } else {
            qs_backoff_sleep(&bo);
        }
    }
}

int qs_coord_run(int *nfailed, qs_grid *g, qs_db *db, int64_t sweep_id, int size,
                 const qs_coord_opts *opts)
{
    coord c;
    int rc = QS_OK, ran = 0;
    *nfailed = 0;
    (void)sweep_id;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.db = db;
    c.opts = opts;
    c.size = size;
    c.t0 = qs_now_s();
    c.tty = isatty(2);
    c.progress_interval = opts->progress ? qs_coord_progress_interval() : 0;
    gethostname(c.host, sizeof c.host - 1);
    c.state = calloc((size_t)g->njobs + 1, sizeof(int));
    c.parent = malloc(((size_t)g->njobs + 1) * sizeof(int));
    c.started = calloc((size_t)g->njobs + 1, sizeof(double));
    c.epochs_seen = calloc((size_t)g->njobs + 1, sizeof(int));
    c.worker_job = malloc((size_t)size * sizeof(int));
    c.rate = calloc((size_t)size, sizeof *c.rate);
    c.worker_host = calloc((size_t)size, sizeof *c.worker_host);
    if (!c.state || !c.parent || !c.started || !c.epochs_seen || !c.worker_job || !c.rate) {
        rc = qs_err(QS_ENOMEM, "out of memory for %d phases", g->njobs);
        goto cleanup;
    }
    for (int r = 0; r < size; r++)
        c.worker_job[r] = -1;
    if ((rc = qs_coord_link_parents(c.parent, g)))
        goto cleanup;
    c.counts[J_QUEUED] = g->njobs;
    /* Statuses as the database has them (sweep_begin requeued 'running'). */
    for (int j = 0; j < g->njobs; j++) {
        qs_db_phase_state st;
        if ((rc = qs_db_phase_state_get(db, g->jobs[j].id, &st)))
            goto cleanup;
        if (!strcmp(st.status, "done"))
            set_state(&c, j, J_DONE);
        else if (!strcmp(st.status, "failed"))
            set_state(&c, j, J_FAILED);
        else if (!strcmp(st.status, "running") && tx(&c))
            note(&c, qs_db_phase_requeue(db, g->jobs[j].id));
    }
    /* A queued phase under a failed parent fails now (e.g. after a
     * --retry-failed of only some phases). */
    for (int j = 0; j < g->njobs; j++) {
        int p = parent_of(&c, j);
        if (c.state[j] == J_QUEUED && p >= 0 && c.state[p] == J_FAILED) {
            qs_db_phase_state st;
            qs_db_phase_state_get(db, g->jobs[p].id, &st);
            if (tx(&c))
                note(&c, qs_db_phase_fail(db, g->jobs[j].id, st.error[0] ? st.error : "failed"));
            fail_tree(&c, j);
        }
    }
    tx_commit(&c);
    if (opts->progress)
        fprintf(stderr, "qsweep: sweep \"%s\": %d phases (%d done, %d failed, %d to run) on %d "
                "worker rank(s)\n", g->name, g->njobs, c.counts[J_DONE], c.counts[J_FAILED],
                c.counts[J_QUEUED], size > 1 ? size - 1 : 1);
    ran = 1;
    rc = size > 1 ? run_mpi(&c) : run_local(&c);
    tx_commit(&c);
    if (rc == QS_OK && c.rc)
        rc = c.rc; /* the last commit failed */
    /* After a database error the counts in memory are not what the file
     * holds; the caller reports from the file. */
    if (!c.rc)
        qs_coord_progress(&c, 1);
    *nfailed = c.counts[J_FAILED];
    if (opts->progress) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                     1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        fprintf(stderr, "qsweep: %s after %.1f s; coordinator CPU %.2f s%s\n",
                rc == QS_EINTR ? "stopped by a signal"
                : rc           ? "stopped by the error above"
                               : "finished",
                qs_now_s() - c.t0, cpu,
                size > 1 ? "" : " (it also trained)");
    }
cleanup:
    if (!ran && size > 1)
        qs_coord_dismiss(size); /* no work was handed out */
    free(c.state);
    free(c.parent);
    free(c.started);
    free(c.epochs_seen);
    free(c.worker_job);
    free(c.rate);
    free(c.worker_host);
    return rc;
}
