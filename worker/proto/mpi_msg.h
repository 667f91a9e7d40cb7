/* Sending and polling protocol messages (proto.h) without busy-waiting:
 * MPICH's blocking receive spins a core, which on a 2-core machine would
 * starve a worker, so receivers poll with MPI_Iprobe and sleep with a
 * back-off between empty polls. */
#ifndef QS_MPI_MSG_H
#define QS_MPI_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef struct {
    int source, tag;
    qs_msg_header h;
    uint8_t *payload;      /* malloc'd, h.len_a + h.len_b + h.len_c bytes */
} qs_msg;

/* Header plus up to three payload parts in one message. */
int qs_msg_send(int dest, int tag, const qs_msg_header *h, const void *a, const void *b,
                const void *c);
/* Non-blocking: 1 and *m filled when a message from source (MPI_ANY_SOURCE
 * allowed) with tag (MPI_ANY_TAG allowed) was waiting, 0 if none. */
int qs_msg_poll(qs_msg *m, int source, int tag);
void qs_msg_free(qs_msg *m);

/* Sleep back-off for pollers: 1 ms doubling to 4 ms, reset on activity. A
 * wake-up every 4 ms costs ~0.1% of a core; a longer cap would add its
 * latency to every phase hand-over (bench/sched_overhead.sh). */
typedef struct {
    long us;
} qs_backoff;
void qs_backoff_reset(qs_backoff *b);
void qs_backoff_sleep(qs_backoff *b);

#endif
