/* The coordinator <-> worker message protocol over MPI.
 *
 * Every message is one MPI_BYTE message: a fixed qs_msg_header followed by
 * `len` payload bytes. The receiver sizes its buffer with MPI_Get_count
 * after MPI_Iprobe, so there is never a second message to pair up. The tag
 * is the message kind. Rank 0 is the coordinator; ranks 1..N-1 are workers.
 *
 *  worker -> coordinator            coordinator -> worker
 *  QS_MSG_READY   idle, wants a job  QS_MSG_JOB   a phase to run
 *  QS_MSG_EPOCH   metrics of an epoch QS_MSG_STOP  finish now, exit (epoch
 *                                    1: the sweep stops on a signal)
 *  QS_MSG_CKPT    latest checkpoint
 *  QS_MSG_DONE    phase finished (payload: final checkpoint, then the
 *                 zlib-compressed decision map when there is one)
 *  QS_MSG_FAILED  phase failed (payload: the error text)
 *  QS_MSG_STOPPED acknowledges STOP (a running phase was abandoned)
 */
#ifndef QS_PROTO_H
#define QS_PROTO_H

#include <stdint.h>

#define QS_PHASE_ID_LEN 32 /* hex chars of a phase id */

enum {
    QS_MSG_READY = 1,
    QS_MSG_JOB = 2,
    QS_MSG_EPOCH = 3,
    QS_MSG_CKPT = 4,
    QS_MSG_DONE = 5,
    QS_MSG_FAILED = 6,
    QS_MSG_STOP = 7,
    QS_MSG_STOPPED = 8
};

/* Metrics carried by EPOCH and DONE, in this order. */
enum {
    QS_M_LR, QS_M_TRAIN_LOSS, QS_M_TRAIN_ACC, QS_M_TEST_LOSS, QS_M_TEST_ACC,
    QS_M_LIPSCHITZ, QS_M_SECONDS, QS_M_IMG_PER_S, QS_M_MODEL_BITS, QS_M_BOPS,
    QS_M_COUNT
};

typedef struct {
    char phase_id[QS_PHASE_ID_LEN + 1];
    char host[63];
    int32_t epoch;          /* EPOCH/CKPT: the epoch just finished */
    int32_t epochs;         /* planned */
    double m[QS_M_COUNT];
    /* JOB: payload = config text (len_a) + parent checkpoint (len_b) +
     * resume checkpoint (len_c). DONE: final checkpoint (len_a) +
     * decision map (len_b). CKPT: checkpoint (len_a). FAILED: error (len_a). */
    uint64_t len_a, len_b, len_c;
} qs_msg_header;

#endif
