/* Winograd F(2x2, 3x3) for the stride-1 3x3 convs (forward; the input
 * gradient, which convk runs as such a conv; the weight gradient): the
 * parts that do not depend on the vector width. The vector bodies are
 * convk_wt.h (input transform), convk_wk.h (output transform, forward
 * driver; compiled into convk.c beside the direct micro-kernel it reuses)
 * and convk_wdk.h (weight-gradient driver; into convk_dw.c beside the
 * direct weight-gradient kernel).
 *
 * Y = A^T [ (G g G^T) . (B^T d B) ] A per 2 x 2 output tile: 16 products
 * per tile and channel pair instead of 36, so 2.25x fewer multiplies; the
 * 16 elementwise products summed over input channels are 16 GEMMs U_xi
 * [k][c] @ V_xi [c][tiles], run on the direct conv's micro-kernel with
 * tiles in the vector lanes. Every element is a fixed sequence of lane-wise
 * operations (the transforms are adds in a written order; each GEMM
 * element one FMA chain over c from zero), so the bits are the same at
 * either width and any thread count, as the direct kernels' are; they
 * differ from the direct kernels' by rounding (the tests bound it).
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1] */
#include "convk_int.h"

#include "par.h"
#include "simd.h"

#include <string.h>

/* Below this many input channels (and, for the weight gradient, output
 * channels) the transforms cost more than the multiplies they save (the
 * first conv of a network has 3): WINO_CMIN where tile rows are a multiple
 * of 4 tiles (w a multiple of 8: the transforms' vector layouts),
 * WINO_CMIN_ODD for other even widths, whose transforms go lane by lane
 * (per layer, batch 32, AVX2, Winograd / direct: 28 x 28, c = k = 32,
 * 1.01x forward and 0.79x weight gradient; 64: 1.42x and 1.12x; 14 x 14,
 * 64: 1.10x and 1.21x). */
#define WINO_CMIN 8
#define WINO_CMIN_ODD 64

static int cmin(const qs_conv_shape *s)
{
    return s->w % 8 == 0 ? WINO_CMIN : WINO_CMIN_ODD;
}

int qs_ck_wino_ok(const qs_conv_shape *s)
{
    return QS_SIMD_X86 && s->kh == 3 && s->kw == 3 && s->stride == 1 &&
           s->pad == 1 && s->h % 2 == 0 && s->w % 2 == 0 && s->c >= cmin(s);
}

static int row_len(const qs_conv_shape *s)
{
    return (int)QS_CK_ALIGN(s->w / 2 + 1);
}

void qs_ck_wgeo_init(qs_ck_wgeo *g, const qs_conv_shape *s)
{
    g->tw = s->wo / 2;
    g->ntile = (s->ho / 2) * g->tw;
    g->pl = row_len(s);
    g->wo = s->wo;
}

size_t qs_ck_wino_copy_len(const qs_conv_shape *s)
{
    return QS_CK_ALIGN((size_t)s->c * (s->h + 2) * 2 * row_len(s));
}

/* per thread: the copy, V of a block [16][c][nr], M of a block
 * [16][k][nr] */
static size_t thread_floats(const qs_conv_shape *s, int nr)
{
    return qs_ck_wino_copy_len(s) +
           QS_CK_ALIGN((size_t)16 * (s->c * nr + QS_CK_SKEW)) +
           QS_CK_ALIGN((size_t)16 * (s->k * nr + QS_CK_SKEW));
}

size_t qs_ck_wino_scratch(const qs_conv_shape *s)
{
    return QS_CK_ALIGN((size_t)16 * s->k * s->c) + QS_CK_ALIGN(s->c) +
           (size_t)QS_PAR_MAXT * thread_floats(s, QS_CK_NRMAX);
}

void qs_ck_wino_pad_row(float *restrict e, float *restrict o,
                        const float *restrict xr, int tw)
{
    /* padded column 2m + 1 is pixel 2m; 2m is pixel 2m - 1 */
    e[0] = 0.0f;
    for (int m = 0; m < tw; m++) {
        o[m] = xr[2 * m];
        e[m + 1] = xr[2 * m + 1];
    }
    o[tw] = 0.0f;
}

/* u [4][4] = G g G^T of one 3x3 kernel g (g[a][b] at g[a * ga + b * gb]) */
static void wtransform(float u[16], const float *g, int ga, int gb)
{
    float t[4][3];
    for (int b = 0; b < 3; b++) {
        const float g0 = g[b * gb], g1 = g[ga + b * gb], g2 = g[2 * ga + b * gb];
        t[0][b] = g0;
        t[1][b] = 0.5f * (g0 + g1 + g2);
        t[2][b] = 0.5f * (g0 - g1 + g2);
        t[3][b] = g2;
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = t[i][0];
        u[4 * i + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[4 * i + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[4 * i + 3] = t[i][2];
    }
}

void qs_ck_wino_init(qs_ck_wjob *j, float *y, const float *x,
                     const float *w, const qs_conv_shape *s, int flip,
                     int accumulate, float *scratch, int mr, int nr)
{
    const int c = s->c, k = s->k;
    float *up = scratch;
    int *koff = (int *)(up + QS_CK_ALIGN((size_t)16 * k * c));
    memset(j, 0, sizeof(*j));
    const qs_ck_panels pn = qs_ck_panels_of(k, mr);
    for (int q = 0; q < pn.npan; q++) {
        const int k0 = qs_ck_panel_k0(&pn, q), m = pn.base + (q < pn.extra);
        for (int r = 0; r < m; r++)
            for (int ci = 0; ci < c; ci++) {
                float u[16];
                const int ko = k0 + r;
                if (flip) /* w [c][k][3][3], rotated: tap (a, b) is (2-a, 2-b) */
                    wtransform(u, w + ((size_t)ci * k + ko) * 9 + 8, -3, -1);
                else
                    wtransform(u, w + ((size_t)ko * c + ci) * 9, 3, 1);
                for (int xi = 0; xi < 16; xi++)
                    up[(size_t)xi * k * c + (size_t)k0 * c +
                       (size_t)ci * m + r] = u[xi];
            }
    }
    for (int ci = 0; ci < c; ci++)
        koff[ci] = ci * nr;
    j->y = y;
    j->x = x;
    j->up = up;
    j->koff = koff;
    j->s = s;
    j->acc = accumulate;
    j->stream = qs_stream_output((size_t)s->n * k * s->ho * s->wo);
    qs_ck_wgeo_init(&j->g, s);
    j->tfloats = thread_floats(s, nr);
    j->tbuf = (float *)koff + QS_CK_ALIGN(c);
}

/* ---- weight gradient ------------------------------------------------------ */

int qs_ck_wino_dw_ok(const qs_conv_shape *s)
{
    return qs_ck_wino_ok(s) && s->k >= cmin(s);
}

/* tiles per block: QS_CK_WNB, or all of a small image's (a multiple of
 * the vector width vl) */
static int dw_block(const qs_conv_shape *s, int vl)
{
    const int t = (s->ho / 2) * (s->wo / 2), tr = (t + vl - 1) / vl * vl;
    return tr < QS_CK_WNB ? tr : QS_CK_WNB;
}

static size_t dw_thread_floats(const qs_conv_shape *s, int kpad, int nb)
{
    return QS_CK_ALIGN((size_t)16 * s->c * kpad) +
           QS_CK_ALIGN((size_t)s->ho * s->wo * kpad) + qs_ck_wino_copy_len(s) +
           QS_CK_ALIGN((size_t)16 * (s->c * nb + QS_CK_SKEW)) +
           QS_CK_ALIGN((size_t)16 * (nb * kpad + QS_CK_SKEW));
}

size_t qs_ck_wino_dw_scratch(const qs_conv_shape *s, int kpad)
{
    return (size_t)QS_PAR_MAXT * dw_thread_floats(s, kpad, QS_CK_WNB);
}

void qs_ck_wino_dw_init(qs_ck_wdwjob *j, const float *dy, const float *x,
                        const qs_conv_shape *s, int kpad, int vl,
                        float *scratch)
{
    memset(j, 0, sizeof(*j));
    j->scratch = scratch;
    j->dy = dy;
    j->x = x;
    j->s = s;
    j->kpad = kpad;
    j->nb = dw_block(s, vl);
    qs_ck_wgeo_init(&j->g, s);
    j->tfloats = dw_thread_floats(s, kpad, j->nb);
}

void qs_ck_wino_dw_finish(float *dweight, const qs_ck_wdwjob *j, int nt)
{
    const qs_conv_shape *s = j->s;
    const int c = s->c, kpad = j->kpad;
    for (int ko = 0; ko < s->k; ko++)
        for (int ci = 0; ci < c; ci++) {
            float u[16], t[3][4];
            for (int xi = 0; xi < 16; xi++) {
                float sum = 0.0f;
                for (int th = 0; th < nt; th++)
                    sum += j->scratch[(size_t)th * j->tfloats +
                                      ((size_t)xi * c + ci) * kpad + ko];
                u[xi] = sum;
            }
            /* G^T dU, then (.) G */
            for (int b = 0; b < 4; b++) {
                const float u0 = u[b], u1 = u[4 + b], u2 = u[8 + b],
                            u3 = u[12 + b];
                t[0][b] = u0 + 0.5f * (u1 + u2);
                t[1][b] = 0.5f * (u1 - u2);
                t[2][b] = 0.5f * (u1 + u2) + u3;
            }
            float *d = dweight + ((size_t)ko * c + ci) * 9;
            for (int a = 0; a < 3; a++) {
                d[3 * a] += t[a][0] + 0.5f * (t[a][1] + t[a][2]);
                d[3 * a + 1] += 0.5f * (t[a][1] - t[a][2]);
                d[3 * a + 2] += 0.5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
}
