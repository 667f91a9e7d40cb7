/* The weight quantizer's z-step and D-step sums (wquant.c), written once
 * over the vector width (vec.h); wquant.c includes this file with QS_VL 16
 * (AVX-512F) and 8 (AVX2 + FMA). Both give the bits of the scalar loops:
 * the z-step is elementwise, and the sums keep wquant.c's WQ_LANES double
 * lanes (element i in lane i % 32: 4 registers of 8 doubles on AVX-512, 8
 * of 4 on AVX2). */
#include "vec.h"

/* wq_level on VL floats: wq_roundf as the shared round half up of |v|
 * (vec.h) with v's sign put back (exact; NaN stays NaN), then the clip as
 * two selects with the scalar comparisons. */
VINL vf QS_VN(wq_levelv)(vf w, vf d, vf m)
{
    const vf v = V_DIV(w, d);
    vf z = V_COPYSIGN(QS_VN(v_round_half_up)(V_ABS(v)), v);
    const vf negm = V_SUB(V_ZERO(), m);
    z = V_SEL(V_CMP(z, m, _CMP_GT_OQ), z, m);
    return V_SEL(V_CMP(z, negm, _CMP_LT_OQ), z, negm);
}

/* The z-step over [0, n) (wq_assign), n a multiple of VL: returns whether
 * any z changed. */
static VTGT int QS_VN(wq_assignv)(float *q, const float *w, size_t n,
                                  float d, float m)
{
    const vf vdd = V_SET1(d), vm = V_SET1(m);
    vmask ch = V_MNONE;
    for (size_t i = 0; i < n; i += VL) {
        vf z = QS_VN(wq_levelv)(V_LOAD(w + i), vdd, vm);
        ch = V_MOR(ch, V_CMP(z, V_LOAD(q + i), _CMP_NEQ_UQ));
        V_STORE(q + i, z);
    }
    return V_MANY(ch);
}

/* The sums of wq_sums over [0, n), n a multiple of WQ_LANES. */
static VTGT void QS_VN(wq_sumsv)(double la[WQ_LANES], double lb[WQ_LANES],
                                 const float *q, const float *w, size_t n)
{
    enum { NRG = WQ_LANES / VDL };
    vd a[NRG], b[NRG];
#pragma GCC unroll 8
    for (int r = 0; r < NRG; r++) {
        a[r] = V_DLOAD(la + VDL * r);
        b[r] = V_DLOAD(lb + VDL * r);
    }
    for (size_t i = 0; i < n; i += WQ_LANES)
#pragma GCC unroll 8
        for (int r = 0; r < NRG; r++) {
            const vd wd = V_DCVT(w + i + VDL * r), zd = V_DCVT(q + i + VDL * r);
            a[r] = V_DADD(a[r], V_DMUL(wd, zd));
            b[r] = V_DADD(b[r], V_DMUL(zd, zd));
        }
#pragma GCC unroll 8
    for (int r = 0; r < NRG; r++) {
        V_DSTORE(la + VDL * r, a[r]);
        V_DSTORE(lb + VDL * r, b[r]);
    }
}
