/* A minimal PNG encoder for decision maps: one byte per pixel (a class
 * label) written as an 8-bit palette image, with zlib doing the work. */
#ifndef QS_API_PNG_H
#define QS_API_PNG_H

#include "buf.h"

/* labels: w*h bytes, row-major from the top. Appends the PNG to out. */
int qs_png_labels(qs_buf *out, const unsigned char *labels, int w, int h);

#endif
