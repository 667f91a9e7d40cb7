/* Weight gradient of conv2d on AVX-512 and AVX2 (see convk.h).
 *
 * dW^T [ckk][k] = sum_n sum_q B_n [ckk][q] dy_n^T [q][k], B the im2col of
 * x_n: an outer-product kernel like the forward one (convk_dwk.h, written
 * once over the vector width). A tile of mr rows of B (9 on AVX-512: one
 * input channel's taps of a 3x3 kernel; 6 on AVX2) by 2 VL output channels
 * lives in 2 mr registers; each position q adds one broadcast element of
 * each B row times the channels of dy at q (dy transposed once per image
 * in VL x VL register blocks, k padded to a multiple of 16 with zeros).
 * Every sum runs over images, then positions, in order, with no
 * horizontal reductions.
 *
 * B's rows are runs of the copy of the image (convk_int.h: padded, or
 * split into phase planes for strides > 1) and only valid positions are
 * visited, so nothing is expanded ninefold. Images are split over threads,
 * each summing into a private dW^T; those are added in thread order. */
#include "convk.h"

#include "convk_int.h"
#include "par.h"
#include "simd.h"

#include <stdlib.h>
#include <string.h>

#define MRMAX 9 /* B rows per tile at the widest (convk_dwk.h) */
#define QB 128  /* positions per block: its dy^T slice stays in L1 */

typedef struct {
    qs_ck_pad g;
    size_t bimg; /* floats of the copy of one image (0: x itself) */
    int kpad;    /* dy^T row: k rounded up to 16 (either width) */
} layout;

static void layout_of(layout *l, const qs_conv_shape *s)
{
    memset(l, 0, sizeof(*l));
    l->kpad = (s->k + 15) & ~15;
    qs_ck_pad_init(&l->g, s);
    l->bimg = l->g.inplace ? 0 : l->g.len;
}

/* per thread: dW^T [ckk][kpad], dy^T [p][kpad], B of one image */
static size_t thread_floats(const qs_conv_shape *s, const layout *l)
{
    return QS_CK_ALIGN(qs_ck_ckk(s) * l->kpad) +
           QS_CK_ALIGN((size_t)s->ho * s->wo * l->kpad) +
           QS_CK_ALIGN(l->bimg);
}

size_t qs_convk_dw_scratch(const qs_conv_shape *s)
{
    layout l;
    layout_of(&l, s);
    size_t n = QS_CK_ALIGN(qs_ck_ckk(s)) + (size_t)QS_PAR_MAXT * thread_floats(s, &l);
    if (qs_ck_wino_dw_ok(s) && qs_ck_wino_dw_scratch(s, l.kpad) > n)
        n = qs_ck_wino_dw_scratch(s, l.kpad);
    return n;
}

typedef void (*dwfn)(const float *const *, int, int, int, int, const float *,
                     float *, int);

typedef struct {
    float *scratch; /* per thread: thread_floats */
    const float *dy, *x;
    const int *koff; /* B row kk at B + koff[kk] */
    const qs_conv_shape *s;
    layout l;
} dwjob;

static float *dw_part(const dwjob *j, int t)
{
    return j->scratch + (size_t)t * thread_floats(j->s, &j->l);
}

#if QS_SIMD_X86
#define QS_VL 16
#include "convk_dwk.h"
#include "convk_wt.h"
#include "convk_wdk.h"
#undef QS_VL
#define QS_VL 8
#include "convk_dwk.h"
#include "convk_wt.h"
#include "convk_wdk.h"
#undef QS_VL
#endif

static qs_par_fn path_dwjob(void)
{
#if QS_SIMD_X86
    return qs_simd_path() >= QS_KPATH_AVX512 ? run_dwjob_avx512 : run_dwjob_avx2;
#else
    abort(); /* no kernels here: qs_convk_available() is 0 */
#endif
}

static qs_par_fn path_wdwjob(void)
{
#if QS_SIMD_X86
    return qs_simd_path() >= QS_KPATH_AVX512 ? run_wdwjob_avx512 : run_wdwjob_avx2;
#else
    abort();
#endif
}

void qs_convk_dweight(float *dweight, const float *dy, const float *x,
                      const qs_conv_shape *s, float *scratch)
{
    if (qs_convk_winograd() && qs_ck_wino_dw_ok(s)) {
        layout l;
        layout_of(&l, s);
        qs_ck_wdwjob wj;
        qs_ck_wino_dw_init(&wj, dy, x, s, l.kpad,
                           qs_simd_path() >= QS_KPATH_AVX512 ? 16 : 8,
                           scratch);
        int nt = qs_par_for(qs_par_threads(), s->n, path_wdwjob(), &wj);
        qs_ck_wino_dw_finish(dweight, &wj, nt);
        return;
    }
    const size_t ckk = qs_ck_ckk(s);
    int *koff = (int *)scratch;
    dwjob j = {.scratch = scratch + QS_CK_ALIGN(ckk), .dy = dy, .x = x,
               .koff = koff, .s = s};
    layout_of(&j.l, s);
    qs_ck_tap_offsets(koff, s, &j.l.g);
    int nt = qs_par_for(qs_par_threads(), s->n, path_dwjob(), &j);
    /* shares in thread order */
    for (int t = 0; t < nt; t++) {
        const float *part = dw_part(&j, t);
        for (int k = 0; k < s->k; k++)
            for (size_t kk = 0; kk < ckk; kk++)
                dweight[k * ckk + kk] += part[kk * j.l.kpad + k];
    }
}
