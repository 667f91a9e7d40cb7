/* PACT's rounding loop (qs_pact_forward), written once over the vector
 * width (vec.h); pact.c includes this file with QS_VL 16 (AVX-512F) and 8
 * (AVX2 + FMA). Same bits as the scalar loop at either width: max(0, x)
 * and min(a, .) return their second operand for a NaN or equal values (so
 * NaN and -0 pass as in the scalar selects), then the shared round half
 * up (vec.h); the tail is one partial vector. */
#include "vec.h"

static VTGT void QS_VN(pact_roundv)(float *y, const float *x, size_t len,
                                    float a, float sc, float inv)
{
    const vf z = V_ZERO(), va = V_SET1(a), vs = V_SET1(sc), vi = V_SET1(inv);
    size_t i = 0;
    for (; i + VL <= len; i += VL) {
        const vf v = V_MUL(V_MIN(va, V_MAX(z, V_LOAD(x + i))), vs);
        V_STORE(y + i, V_MUL(QS_VN(v_round_half_up)(v), vi));
    }
    if (i < len) { /* full vectors unmasked: AVX2's masked store is slow */
        const vtail m = V_TAIL((int)(len - i));
        const vf v = V_MUL(V_MIN(va, V_MAX(z, V_LOADT(m, x + i))), vs);
        V_STORET(y + i, m, V_MUL(QS_VN(v_round_half_up)(v), vi));
    }
}
