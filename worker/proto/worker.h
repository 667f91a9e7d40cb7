/* The worker loop of ranks 1..N-1 and the stop flag every rank shares.
 * Owned by the worker layer so the coordinator (server/coord) and the
 * worker each include it from below, never the other way. */
#ifndef QS_WORKER_H
#define QS_WORKER_H

/* The worker loop of ranks >= 1: returns when the coordinator says STOP. */
int qs_worker_loop(double ckpt_interval);

/* Set by the SIGINT/SIGTERM handler of every rank. */
extern volatile int qs_stop_requested;
void qs_install_stop_handlers(void);

#endif
