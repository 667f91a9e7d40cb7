/* The worker rank's loop: ask for a phase, run it, report, repeat. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "job.h"
#include "mpi_msg.h"
#include "worker.h"

volatile int qs_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    qs_stop_requested = 1;
}

void qs_install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct {
    qs_msg_header h;       /* phase id and host, reused for every message */
    int stop;              /* STOP received while running */
    int signalled;         /* a STOP said the sweep stops on a signal */
} worker_ctx;

static void got_stop(worker_ctx *w, const qs_msg *m)
{
    w->stop = 1;
    w->signalled |= m->h.epoch != 0;
}

static void fill_metrics(double *m, const qs_epoch_metrics *e, double bits, double bops)
{
    m[QS_M_LR] = e->lr;
    m[QS_M_TRAIN_LOSS] = e->train_loss;
    m[QS_M_TRAIN_ACC] = e->train_acc;
    m[QS_M_TEST_LOSS] = e->test_loss;
    m[QS_M_TEST_ACC] = e->test_acc;
    m[QS_M_LIPSCHITZ] = e->lipschitz;
    m[QS_M_SECONDS] = e->seconds;
    m[QS_M_IMG_PER_S] = e->img_per_s;
    m[QS_M_MODEL_BITS] = bits;
    m[QS_M_BOPS] = bops;
}

static void sink_epoch(void *user, const qs_epoch_metrics *e, double bits, double bops)
{
    worker_ctx *w = user;
    qs_msg_header h = w->h;
    h.epoch = e->epoch;
    h.epochs = e->epochs;
    fill_metrics(h.m, e, bits, bops);
    qs_msg_send(0, QS_MSG_EPOCH, &h, NULL, NULL, NULL);
}

static void sink_ckpt(void *user, int epoch, const uint8_t *bytes, size_t len)
{
    worker_ctx *w = user;
    qs_msg_header h = w->h;
    h.epoch = epoch;
    h.len_a = len;
    qs_msg_send(0, QS_MSG_CKPT, &h, bytes, NULL, NULL);
}

static int sink_interrupt(void *user)
{
    worker_ctx *w = user;
    qs_msg m;
    if (w->stop || qs_stop_requested)
        return 1;
    if (qs_msg_poll(&m, 0, QS_MSG_STOP)) {
        got_stop(w, &m);
        qs_msg_free(&m);
    }
    return w->stop;
}

int qs_worker_loop(double ckpt_interval)
{
    worker_ctx w;
    qs_data_cache cache;
    qs_backoff bo;
    memset(&w, 0, sizeof w);
    memset(&cache, 0, sizeof cache);
    gethostname(w.h.host, sizeof w.h.host - 1);
    qs_job_sink sink = {&w, sink_epoch, sink_ckpt, sink_interrupt, ckpt_interval};
    qs_msg_send(0, QS_MSG_READY, &w.h, NULL, NULL, NULL);
    qs_backoff_reset(&bo);
    for (;;) {
        qs_msg m;
        if (!qs_msg_poll(&m, 0, MPI_ANY_TAG)) {
            qs_backoff_sleep(&bo);
            continue;
        }
        qs_backoff_reset(&bo);
        if (m.tag == QS_MSG_STOP) {
            got_stop(&w, &m);
            qs_msg_free(&m);
            memset(w.h.phase_id, 0, sizeof w.h.phase_id);
            qs_msg_send(0, QS_MSG_STOPPED, &w.h, NULL, NULL, NULL);
            break;
        }
        if (m.tag != QS_MSG_JOB || !m.payload) {
            qs_msg_free(&m);
            continue;
        }
        memcpy(w.h.phase_id, m.h.phase_id, sizeof w.h.phase_id);
        /* Split the payload: config text, parent and resume checkpoints. */
        char *config = strndup((char *)m.payload, m.h.len_a);
        uint8_t *parent = NULL, *resume = NULL;
        if (m.h.len_b && (parent = malloc(m.h.len_b)))
            memcpy(parent, m.payload + m.h.len_a, m.h.len_b);
        if (m.h.len_c && (resume = malloc(m.h.len_c)))
            memcpy(resume, m.payload + m.h.len_a + m.h.len_b, m.h.len_c);
        size_t plen = m.h.len_b, rlen = m.h.len_c;
        qs_msg_free(&m);
        qs_job_result r;
        int rc = config ? qs_job_run(&r, config, parent, plen, resume, rlen, &sink, &cache)
                        : qs_err(QS_ENOMEM, "out of memory");
        free(config);
        qs_msg_header h = w.h;
        h.epoch = r.epochs_done;
        if (rc == QS_EINTR) {
            qs_msg_send(0, QS_MSG_STOPPED, &h, NULL, NULL, NULL);
            qs_job_result_free(&r);
            /* A signal stopped us first: the coordinator's STOP is still
             * coming and must be received before MPI_Finalize. */
            while (!w.stop) {
                if (qs_msg_poll(&m, 0, QS_MSG_STOP)) {
                    got_stop(&w, &m);
                    qs_msg_free(&m);
                } else {
                    qs_backoff_sleep(&bo);
                }
            }
            break;
        }
        if (rc == QS_OK) {
            fill_metrics(h.m, &r.last, r.model_bits, r.bops);
            h.m[QS_M_SECONDS] = r.last.seconds;
            h.len_a = r.ckpt_len;
            h.len_b = r.dmap_len;
            qs_msg_send(0, QS_MSG_DONE, &h, r.ckpt, r.dmap, NULL);
        } else {
            h.len_a = strlen(r.error);
            qs_msg_send(0, QS_MSG_FAILED, &h, r.error, NULL, NULL);
        }
        qs_job_result_free(&r);
        qs_msg_send(0, QS_MSG_READY, &w.h, NULL, NULL, NULL);
    }
    qs_data_cache_free(&cache);
    return w.signalled || qs_stop_requested ? QS_EINTR : QS_OK;
}
