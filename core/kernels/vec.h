/* One vector width for the kernels written once (private to core/).
 *
 * A kernel body file (convk_k.h, convk_dwk.h, dwconv_k.h, wquant_k.h,
 * pact_k.h) is included by its module once per width, with QS_VL set to
 * 16 (AVX-512F, __m512) or 8 (AVX2 + FMA, __m256) first; the body then
 * includes this header and writes its loops with the names below. Every
 * function of a body carries VTGT (the target attribute, so the build
 * needs no -march) and a name made by QS_VN (name_avx512 / name_avx2); the
 * module picks one set once per call from qs_simd_path(). This header is
 * read once per width in the same translation unit, so it undefines
 * everything it defines first: no include guard on the width part.
 *
 *   VL            floats per vector; VDL doubles per vector (VL / 2)
 *   vf, vd        float / double vector types
 *   vtail         which lanes a partial load or store touches: V_TAIL(n)
 *                 = the first n (0..VL); V_LOADT zero-fills the others and
 *                 V_STORET leaves them alone (no fault past the end)
 *   vmask         a lane predicate from V_CMP, used by V_SEL (m ? b : a),
 *                 V_MOR, V_MANY (any lane set), V_ONE_WHERE (1.0f where m)
 *   V_JOIN(a, b)  VL/2 floats at a, then VL/2 at b (row pieces of VL/2)
 *   V_REDUCE      horizontal float sum (the order of the intrinsic)
 *   QS_VN(v_transpose)(r)  r [VL] vectors transposed in registers
 *   QS_VN(v_round_half_up)(v)  floor(v + 0.5) for v >= -0 (see below)
 *
 * Results that depend only on the order of lane-wise operations (every
 * FMA chain of the conv kernels, the elementwise passes) are the same bits
 * at either width; horizontal sums are not (docs/kernels.md). */
#if !defined(__x86_64__) || !defined(__GNUC__)
#error "vec.h is for the x86-64 kernel bodies (QS_SIMD_X86)"
#endif
#ifndef QS_VL
#error "define QS_VL (16 or 8) before including vec.h"
#endif

#include <immintrin.h>
#include <stdint.h>

#ifndef QS_VEC_ONCE
#define QS_VEC_ONCE
/* AVX2 tails: V_TAIL(n) loads 8 lane masks from qs_v_tailtab + 8 - n */
static const int32_t qs_v_tailtab[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                         0,  0,  0,  0,  0,  0,  0,  0};
#endif

#undef VL
#undef VDL
#undef VTGT
#undef VINL
#undef QS_VN
#undef vf
#undef vd
#undef vtail
#undef vmask
#undef V_ZERO
#undef V_SET1
#undef V_LOAD
#undef V_STORE
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_MIN
#undef V_MAX
#undef V_FMA
#undef V_TAIL
#undef V_LOADT
#undef V_STORET
#undef V_JOIN
#undef V_CMP
#undef V_SEL
#undef V_MOR
#undef V_MNONE
#undef V_MANY
#undef V_ONE_WHERE
#undef V_TRUNC
#undef V_ABS
#undef V_COPYSIGN
#undef V_REDUCE
#undef V_DZERO
#undef V_DLOAD
#undef V_DSTORE
#undef V_DADD
#undef V_DMUL
#undef V_DCVT

#if QS_VL == 16

#define VL 16
#define VDL 8
#define VTGT __attribute__((target("avx512f")))
#define QS_VN(name) name##_avx512
#define vf __m512
#define vd __m512d
#define vtail __mmask16
#define vmask __mmask16
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_DIV(a, b) _mm512_div_ps(a, b)
#define V_MIN(a, b) _mm512_min_ps(a, b)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_TAIL(n) ((__mmask16)((1u << (n)) - 1u))
#define V_LOADT(t, p) _mm512_maskz_loadu_ps(t, p)
#define V_STORET(p, t, v) _mm512_mask_storeu_ps(p, t, v)
/* AVX-512F has no 32x8 insert: the halves go in as 64x4 */
#define V_JOIN(lo, hi)                                                      \
    _mm512_castpd_ps(_mm512_insertf64x4(                                    \
        _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps(lo))),      \
        _mm256_castps_pd(_mm256_loadu_ps(hi)), 1))
#define V_CMP(a, b, pr) _mm512_cmp_ps_mask(a, b, pr)
#define V_SEL(m, a, b) _mm512_mask_mov_ps(a, m, b)
#define V_MOR(a, b) ((__mmask16)((a) | (b)))
#define V_MNONE ((__mmask16)0)
#define V_MANY(m) ((m) != 0)
#define V_ONE_WHERE(m) _mm512_maskz_mov_ps(m, _mm512_set1_ps(1.0f))
#define V_TRUNC(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
/* sign-bit logic in the integer domain (AVX-512F has no and_ps) */
#define V_ABS(v)                                                            \
    _mm512_castsi512_ps(_mm512_andnot_si512(                                \
        _mm512_set1_epi32((int)0x80000000u), _mm512_castps_si512(v)))
#define V_COPYSIGN(t, s)                                                    \
    _mm512_castsi512_ps(_mm512_or_si512(                                    \
        _mm512_castps_si512(t),                                             \
        _mm512_and_si512(_mm512_set1_epi32((int)0x80000000u),               \
                         _mm512_castps_si512(s))))
#define V_REDUCE(v) _mm512_reduce_add_ps(v)
#define V_DZERO() _mm512_setzero_pd()
#define V_DLOAD(p) _mm512_loadu_pd(p)
#define V_DSTORE(p, v) _mm512_storeu_pd(p, v)
#define V_DADD(a, b) _mm512_add_pd(a, b)
#define V_DMUL(a, b) _mm512_mul_pd(a, b)
#define V_DCVT(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))

#elif QS_VL == 8

#define VL 8
#define VDL 4
#define VTGT __attribute__((target("avx2,fma")))
#define QS_VN(name) name##_avx2
#define vf __m256
#define vd __m256d
#define vtail __m256i
#define vmask __m256
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_DIV(a, b) _mm256_div_ps(a, b)
#define V_MIN(a, b) _mm256_min_ps(a, b)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_TAIL(n) _mm256_loadu_si256((const __m256i *)(qs_v_tailtab + 8 - (n)))
#define V_LOADT(t, p) _mm256_maskload_ps(p, t)
#define V_STORET(p, t, v) _mm256_maskstore_ps(p, t, v)
#define V_JOIN(lo, hi)                                                      \
    _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)),          \
                         _mm_loadu_ps(hi), 1)
#define V_CMP(a, b, pr) _mm256_cmp_ps(a, b, pr)
#define V_SEL(m, a, b) _mm256_blendv_ps(a, b, m)
#define V_MOR(a, b) _mm256_or_ps(a, b)
#define V_MNONE _mm256_setzero_ps()
#define V_MANY(m) (_mm256_movemask_ps(m) != 0)
#define V_ONE_WHERE(m) _mm256_and_ps(m, _mm256_set1_ps(1.0f))
#define V_TRUNC(v) _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
#define V_ABS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v)
#define V_COPYSIGN(t, s)                                                    \
    _mm256_or_ps(t, _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
/* halves added, then quarters, then pairs */
#define V_REDUCE(v) QS_VN(v_reduce)(v)
#define V_DZERO() _mm256_setzero_pd()
#define V_DLOAD(p) _mm256_loadu_pd(p)
#define V_DSTORE(p, v) _mm256_storeu_pd(p, v)
#define V_DADD(a, b) _mm256_add_pd(a, b)
#define V_DMUL(a, b) _mm256_mul_pd(a, b)
#define V_DCVT(p) _mm256_cvtps_pd(_mm_loadu_ps(p))

#else
#error "QS_VL must be 16 or 8"
#endif

#define VINL static inline __attribute__((always_inline)) VTGT

/* floor(v + 0.5) for v >= -0 (NaN stays NaN), as the scalar roundings of
 * pact.c and wquant.c compute it (bit for bit): trunc(v) plus 1 where the
 * fraction v - trunc(v), which is exact, is at least 0.5; always adding
 * the +0 or 1 turns a -0 into +0 as the scalar integer conversion does. */
VINL vf QS_VN(v_round_half_up)(vf v)
{
    const vf t = V_TRUNC(v);
    return V_ADD(t, V_ONE_WHERE(V_CMP(V_SUB(v, t), V_SET1(0.5f), _CMP_GE_OQ)));
}

#if QS_VL == 16
/* r [16][16] transposed in registers: four shuffle stages. */
VINL void QS_VN(v_transpose)(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int j = 0; j < 8; j++) {
        t[2 * j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
        t[2 * j + 1] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
    }
    /* lane l of u[4j + m]: rows 4j .. 4j+3 of column 4l + m */
    for (int j = 0; j < 4; j++) {
        u[4 * j] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44);
        u[4 * j + 1] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE);
        u[4 * j + 2] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
        u[4 * j + 3] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        t[m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
        t[4 + m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
        t[8 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0x88);
        r[4 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0xDD);
        r[12 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0xDD);
    }
}
#else
/* r [8][8] transposed in registers: unpack, shuffle, then swap the
 * 128-bit halves. */
VINL void QS_VN(v_transpose)(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int j = 0; j < 4; j++) {
        t[2 * j] = _mm256_unpacklo_ps(r[2 * j], r[2 * j + 1]);
        t[2 * j + 1] = _mm256_unpackhi_ps(r[2 * j], r[2 * j + 1]);
    }
    for (int j = 0; j < 2; j++) {
        u[4 * j] = _mm256_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44);
        u[4 * j + 1] = _mm256_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE);
        u[4 * j + 2] = _mm256_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
        u[4 * j + 3] = _mm256_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
        r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
}

VINL float QS_VN(v_reduce)(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif
