/* BitPruning's interpolated quantizers and bit-width loss (bitprune.h).
 * Both widths come from the plain quantizers themselves (PACT, LSQ's
 * symmetric codes), run over stack chunks, so an integer b reproduces
 * them exactly and there is one definition of each quantizer. */
#include "bitprune.h"

#include <math.h>

#include "err.h"
#include "lsq.h"
#include "quant.h"

#define BP_CHUNK 256

const char *const qs_bp_weighting_names[] = {"uniform", "params", "macs", NULL};

qs_bp_split qs_bp_split_bits(float b)
{
    qs_bp_split s;
    int lo = (int)floorf(b);
    if (lo > QS_BP_BMAX - 1)
        lo = QS_BP_BMAX - 1;
    if (lo < 1)
        lo = 1;
    s.lo = lo;
    s.hi = lo + 1;
    s.f = b - (float)lo; /* exact: b and lo are within 2^24 of each other */
    if (s.f < 0)
        s.f = 0;
    if (s.f > 1)
        s.f = 1;
    return s;
}

float qs_bp_clamp(float b, float bmin)
{
    if (!(b >= bmin)) /* NaN too */
        return bmin;
    return b > QS_BP_BMAX ? (float)QS_BP_BMAX : b;
}

int qs_bp_round_up(float b) { return (int)ceilf(qs_bp_clamp(b, 1)); }

/* (1 - f) lo + f hi: at f = 0 exactly lo, at f = 1 exactly hi. */
static inline float mix(float lo, float hi, float f) { return (1.0f - f) * lo + f * hi; }

void qs_bp_act_forward(float *y, const float *x, size_t len, float alpha, float b)
{
    qs_bp_split s = qs_bp_split_bits(b);
    float ql[BP_CHUNK], qh[BP_CHUNK];
    for (size_t o = 0; o < len; o += BP_CHUNK) {
        size_t n = len - o < BP_CHUNK ? len - o : BP_CHUNK;
        qs_pact_forward(ql, x + o, n, alpha, s.lo);
        qs_pact_forward(qh, x + o, n, alpha, s.hi);
        for (size_t i = 0; i < n; i++)
            y[o + i] = mix(ql[i], qh[i], s.f);
    }
}

double qs_bp_act_backward(float *dx, double *db, const float *dy, const float *x, size_t len,
                          float alpha, float b)
{
    qs_bp_split s = qs_bp_split_bits(b);
    float ql[BP_CHUNK], qh[BP_CHUNK];
    double acc = 0;
    for (size_t o = 0; o < len; o += BP_CHUNK) {
        size_t n = len - o < BP_CHUNK ? len - o : BP_CHUNK;
        qs_pact_forward(ql, x + o, n, alpha, s.lo);
        qs_pact_forward(qh, x + o, n, alpha, s.hi);
        for (size_t i = 0; i < n; i++)
            acc += (double)dy[o + i] * ((double)qh[i] - (double)ql[i]);
    }
    *db += acc;
    /* The clip range is the same at both widths, so the interpolation's
     * straight-through gradient is PACT's own. */
    return qs_pact_backward(dx, dy, x, len, alpha);
}

/* The weight step of width k for a clip level. */
static float w_step(float clip, int k) { return clip / qs_lsq_wqp(k); }

void qs_bp_w_forward(float *q, const float *w, size_t len, float clip, float b)
{
    qs_bp_split s = qs_bp_split_bits(b < QS_BP_W_BMIN ? QS_BP_W_BMIN : b);
    const float sl = w_step(clip, s.lo), sh = w_step(clip, s.hi);
    float ql[BP_CHUNK], qh[BP_CHUNK];
    for (size_t o = 0; o < len; o += BP_CHUNK) {
        size_t n = len - o < BP_CHUNK ? len - o : BP_CHUNK;
        qs_lsq_w_forward(ql, w + o, n, &sl, 1, s.lo);
        qs_lsq_w_forward(qh, w + o, n, &sh, 1, s.hi);
        for (size_t i = 0; i < n; i++)
            q[o + i] = mix(ql[i], qh[i], s.f);
    }
}

void qs_bp_w_backward(float *dw, double *db, const float *dq, const float *w, size_t len,
                      float clip, float b)
{
    qs_bp_split s = qs_bp_split_bits(b < QS_BP_W_BMIN ? QS_BP_W_BMIN : b);
    const float sl = w_step(clip, s.lo), sh = w_step(clip, s.hi);
    const float pl = qs_lsq_wqp(s.lo), ph = qs_lsq_wqp(s.hi);
    float ql[BP_CHUNK], qh[BP_CHUNK];
    double acc = 0;
    for (size_t o = 0; o < len; o += BP_CHUNK) {
        size_t n = len - o < BP_CHUNK ? len - o : BP_CHUNK;
        qs_lsq_w_forward(ql, w + o, n, &sl, 1, s.lo);
        qs_lsq_w_forward(qh, w + o, n, &sh, 1, s.hi);
        for (size_t i = 0; i < n; i++) {
            float d = dq[o + i], vl = w[o + i] / sl, vh = w[o + i] / sh;
            /* LSQ's test, with its division, at each width: a weight on
             * the clip level is clipped. */
            float in_l = vl > -pl && vl < pl, in_h = vh > -ph && vh < ph;
            dw[o + i] += (1.0f - s.f) * d * in_l + s.f * d * in_h;
            acc += (double)d * ((double)qh[i] - (double)ql[i]);
        }
    }
    *db += acc;
}

int qs_bp_loss(double *r, double *db, const float *b, const double *params, const double *macs,
               int n, qs_bp_weighting mode, double lambda)
{
    const double *c = mode == QS_BP_PARAMS ? params : mode == QS_BP_MACS ? macs : NULL;
    if ((unsigned)mode > QS_BP_MACS || (mode != QS_BP_UNIFORM && !c))
        return qs_err(QS_EINVAL, "bit-width loss: weighting %d without its counts", (int)mode);
    if (!(lambda >= 0))
        return qs_err(QS_EINVAL, "bit-width loss: lambda %g is not >= 0", lambda);
    double sum = 0, acc = 0;
    for (int l = 0; l < n; l++) {
        double cl = c ? c[l] : 1.0;
        if (!(cl >= 0))
            return qs_err(QS_EINVAL, "bit-width loss: layer %d has weight %g", l, cl);
        sum += cl;
        acc += cl * (double)b[l];
    }
    if (!(sum > 0))
        return qs_err(QS_EINVAL, "bit-width loss: the %s weights of %d layers sum to 0",
                      qs_bp_weighting_names[mode], n);
    for (int l = 0; l < n; l++)
        db[l] += lambda * (c ? c[l] : 1.0) / sum;
    *r = lambda * acc / sum;
    return QS_OK;
}
