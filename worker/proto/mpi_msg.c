#include "mpi_msg.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

int qs_msg_send(int dest, int tag, const qs_msg_header *h, const void *a, const void *b,
                const void *c)
{
    size_t n = sizeof *h + h->len_a + h->len_b + h->len_c;
    if (n > (size_t)0x7fffffff)
        return qs_err(QS_EINVAL, "message of %zu bytes exceeds MPI's int count", n);
    uint8_t *buf = malloc(n);
    if (!buf)
        return qs_err(QS_ENOMEM, "out of memory for a %zu-byte message", n);
    memcpy(buf, h, sizeof *h);
    size_t off = sizeof *h;
    if (h->len_a)
        memcpy(buf + off, a, h->len_a);
    off += h->len_a;
    if (h->len_b)
        memcpy(buf + off, b, h->len_b);
    off += h->len_b;
    if (h->len_c)
        memcpy(buf + off, c, h->len_c);
    /* Large payloads go by rendezvous: the receiver polls often enough that
     * this blocks only for the copy. */
    int rc = MPI_Send(buf, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    free(buf);
    return rc == MPI_SUCCESS ? QS_OK : qs_err(QS_EIO, "MPI_Send to rank %d failed", dest);
}

int qs_msg_poll(qs_msg *m, int source, int tag)
{
    int flag = 0, count = 0;
    MPI_Status st;
    memset(m, 0, sizeof *m);
    MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &st);
    if (!flag)
        return 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    uint8_t *buf = malloc(count > 0 ? (size_t)count : 1);
    if (!buf)
        return 0; /* try again later; the message stays queued */
    MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    m->source = st.MPI_SOURCE;
    m->tag = st.MPI_TAG;
    if ((size_t)count >= sizeof m->h) {
        memcpy(&m->h, buf, sizeof m->h);
        size_t plen = (size_t)count - sizeof m->h;
        if (plen != m->h.len_a + m->h.len_b + m->h.len_c) /* never trust sizes blindly */
            m->h.len_a = plen, m->h.len_b = m->h.len_c = 0;
        m->payload = malloc(plen + 1);
        if (m->payload) {
            memcpy(m->payload, buf + sizeof m->h, plen);
            m->payload[plen] = 0; /* text payloads end in NUL */
        }
    }
    free(buf);
    return 1;
}

void qs_msg_free(qs_msg *m)
{
    free(m->payload);
    m->payload = NULL;
}

void qs_backoff_reset(qs_backoff *b) { b->us = 1000; }

void qs_backoff_sleep(qs_backoff *b)
{
    if (b->us < 1000)
        b->us = 1000;
    struct timespec ts = {b->us / 1000000, (b->us % 1000000) * 1000};
    nanosleep(&ts, NULL);
    b->us = b->us * 2 > 4000 ? 4000 : b->us * 2;
}
