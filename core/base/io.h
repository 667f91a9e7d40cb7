/* Whole-file reads of the inputs a user names (checkpoints, grids, job
 * configs). The path may be anything a shell can name: a FIFO, a directory
 * or a device is refused before a single byte is read, and a file larger
 * than the caller's limit before any memory is taken for it. */
#ifndef QS_IO_H
#define QS_IO_H

#include <stddef.h>

/* Reads the regular file `path` into *out (malloc'd, with a NUL after the
 * last byte that *len does not count). The open is non-blocking, so a FIFO
 * without a writer is refused instead of hanging. max: the largest size
 * accepted (bytes). Errors are QS_EIO, or QS_EINVAL for a file over max,
 * with a message "PATH: reason". */
int qs_read_file(char **out, size_t *len, const char *path, size_t max);

/* QS_EINVAL when `path` exists and is not a regular file (an output
 * written by rename over it would fail). `flag` names the option in the
 * message ("--save"). Creates nothing. */
int qs_check_output(const char *path, const char *flag);

#endif
