/* Checkpoint container: a list of named binary sections protected by CRC32.
 *
 * Byte layout (little-endian):
 *   0  "QSCK" magic
 *   4  u32 format version (QS_CKPT_VERSION)
 *   8  u32 section count
 *   12 sections: u16 name length, name bytes, u64 size, data bytes
 *   .. u32 CRC32 (zlib) of every byte before it
 * What the sections hold (model config, parameters, BN statistics,
 * optimiser state, epoch, RNG...) is the trainer's business; this module
 * only guarantees that what was written is what is read, or a clear error.
 * Files are written to PATH.tmp, fsynced and renamed, so a kill -9 leaves
 * either the old checkpoint or the new one, never half of one. */
#ifndef QS_CKPT_H
#define QS_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define QS_CKPT_VERSION 1
#define QS_CKPT_MAX_SECTIONS 64

typedef struct {
    char name[64];
    const uint8_t *data;   /* into the owning buffer, unaligned: memcpy, do not cast */
    uint64_t size;
} qs_ckpt_section;

typedef struct {
    uint8_t *buf;          /* owned: the whole encoded checkpoint */
    size_t len;
    int nsec;
    qs_ckpt_section sec[QS_CKPT_MAX_SECTIONS];
} qs_ckpt;

/* Writer: add sections (data is copied), then encode or save. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int nsec;
} qs_ckpt_writer;

void qs_ckpt_writer_init(qs_ckpt_writer *w);
int qs_ckpt_writer_add(qs_ckpt_writer *w, const char *name, const void *data,
                       size_t size);
/* Finishes the encoding: *out and *len point at the writer's buffer (still owned
 * by the writer). Call once, after the last add. */
int qs_ckpt_writer_finish(qs_ckpt_writer *w, const uint8_t **out, size_t *len);
void qs_ckpt_writer_free(qs_ckpt_writer *w);

/* Atomic save of an encoded buffer to path. */
int qs_ckpt_save_bytes(const char *path, const uint8_t *bytes, size_t len);

/* Decode from memory (takes ownership of buf on success AND failure;
 * `what` names the source in error messages, e.g. the file path). */
int qs_ckpt_decode(qs_ckpt *ck, uint8_t *buf, size_t len, const char *what);
/* Read and decode a file; errors name the path and the byte offset. */
int qs_ckpt_load(qs_ckpt *ck, const char *path);
/* Section lookup: returns data or NULL; *size gets its size. */
const void *qs_ckpt_get(const qs_ckpt *ck, const char *name, size_t *size);
void qs_ckpt_free(qs_ckpt *ck);

#endif
