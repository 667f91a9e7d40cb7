/* The worker loop of ranks 1..N-1 and the stop flag every rank shares.
 * Owned by the worker layer so the coordinator (server/coord) and the
 * worker each include it from below, never the other way. */
#ifndef QS_WORKER_H
#define QS_WORKER_H

/* The worker loop of ranks >= 1: returns when the coordinator says STOP. */
/* QS_OK once the coordinator's STOP came; QS_EINTR when this rank had a
 * SIGINT / SIGTERM or the STOP said the sweep stops on one (a rank that
 * was idle can get the STOP before mpiexec's forwarded signal reaches it,
 * and its status must still say the sweep was stopped). */
int qs_worker_loop(double ckpt_interval);

/* Set by the SIGINT/SIGTERM handler of every rank. */
extern volatile int qs_stop_requested;
void qs_install_stop_handlers(void);

#endif
