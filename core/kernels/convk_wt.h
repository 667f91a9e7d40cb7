/* Winograd F(2x2, 3x3) input transform and the shared vector helpers,
 * written once over the vector width: read after vec.h (for this width)
 * by convk.c (forward, convk_wk.h) and convk_dw.c (weight gradient,
 * convk_wdk.h). Lanes run over tiles (layout: convk_int.h). A vector of
 * VL tiles is read with plain loads when its tiles are consecutive in one
 * tile row (tw a multiple of VL), as two half-vector rows when tw is VL /
 * 2, else lane by lane from a gathered copy through the same operations
 * in the same order (so the same bits). */

/* the two interleavings of a and b: lo = a0 b0 a1 b1 .., hi the upper
 * halves' */
VINL void QS_VN(wzip)(vf a, vf b, vf *lo, vf *hi)
{
#if VL == 16
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20,
                                         5, 21, 6, 22, 7, 23);
    const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12,
                                         28, 13, 29, 14, 30, 15, 31);
    *lo = _mm512_permutex2var_ps(a, il, b);
    *hi = _mm512_permutex2var_ps(a, ih, b);
#else
    const __m256 l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);
    *lo = _mm256_permute2f128_ps(l, h, 0x20);
    *hi = _mm256_permute2f128_ps(l, h, 0x31);
#endif
}

/* the even and odd lanes of a | b (a0 a2 .. b0 b2 .., a1 a3 ..) */
VINL void QS_VN(wunzip)(vf a, vf b, vf *ev, vf *od)
{
#if VL == 16
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                         20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                         21, 23, 25, 27, 29, 31);
    *ev = _mm512_permutex2var_ps(a, ie, b);
    *od = _mm512_permutex2var_ps(a, io, b);
#else
    /* per 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs
     * in order */
    const __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD);
    *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    *od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
#endif
}

/* xp <- the parity-split padded copy of image x [c, h, w] (convk_int.h) */
static VTGT void QS_VN(wpad)(float *restrict xp, const float *restrict x,
                             const qs_conv_shape *s, int pl)
{
    const int w = s->w, tw = w / 2;
    for (int ci = 0; ci < s->c; ci++)
        for (int r = 0; r < s->h + 2; r++) {
            float *e = xp + ((size_t)ci * (s->h + 2) + r) * 2 * pl,
                  *o = e + pl;
            if (r == 0 || r == s->h + 1) {
                memset(e, 0, sizeof(float) * 2 * pl);
                continue;
            }
            const float *xr = x + ((size_t)ci * s->h + r - 1) * w;
            if (w == VL) {
                /* half vectors: the E row's store runs past its tw + 1
                 * floats (at VL 16 into the O row, stored next) */
                vf ev, od;
                QS_VN(wunzip)(V_LOAD(xr), V_ZERO(), &ev, &od);
                V_STORE(e + 1, od);
                V_STORE(o, ev);
                e[0] = 0.0f;
                o[tw] = 0.0f;
            } else if (w % (2 * VL) == 0) {
                e[0] = 0.0f;
                for (int m = 0; m < tw; m += VL) {
                    vf ev, od;
                    QS_VN(wunzip)(V_LOAD(xr + 2 * m), V_LOAD(xr + 2 * m + VL),
                                  &ev, &od);
                    V_STORE(o + m, ev);
                    V_STORE(e + m + 1, od);
                }
                o[tw] = 0.0f;
            } else {
                qs_ck_wino_pad_row(e, o, xr, tw);
            }
        }
}

/* One input vector: VL tiles' values at p (consecutive in one tile row)
 * or, join, VL/2 at p and VL/2 at p + dh (two tile rows of VL/2). */
VINL vf QS_VN(wld)(const float *p, ptrdiff_t dh, int join)
{
    return join ? V_JOIN(p, p + dh) : V_LOAD(p);
}

/* vb [16] rows of stride vs <- B^T d B of a vector of tiles whose 4 x 4
 * inputs are, in row i (e = e0 + i rs, o = e + po), e[0], o[0], e[one],
 * o[one]. The columns are combined first (d B), per row, then the rows. */
VINL void QS_VN(wv_body)(float *vb, size_t vs, const float *e0, size_t rs,
                         size_t po, int one, ptrdiff_t dh, int join)
{
    vf c[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        const float *e = e0 + i * rs, *o = e + po;
        const vf a0 = QS_VN(wld)(e, dh, join), a1 = QS_VN(wld)(o, dh, join),
                 a2 = QS_VN(wld)(e + one, dh, join),
                 a3 = QS_VN(wld)(o + one, dh, join);
        c[i][0] = V_SUB(a0, a2);
        c[i][1] = V_ADD(a1, a2);
        c[i][2] = V_SUB(a2, a1);
        c[i][3] = V_SUB(a1, a3);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        V_STORE(vb + (size_t)j * vs, V_SUB(c[0][j], c[2][j]));
        V_STORE(vb + (size_t)(4 + j) * vs, V_ADD(c[1][j], c[2][j]));
        V_STORE(vb + (size_t)(8 + j) * vs, V_SUB(c[2][j], c[1][j]));
        V_STORE(vb + (size_t)(12 + j) * vs, V_SUB(c[1][j], c[3][j]));
    }
}

/* the same, lane by lane from a gathered copy: row i's e[0] | e[1] in
 * g[i][0], o[0] | o[1] in g[i][1] (tiles not in the layouts above, and
 * junk tiles past the last, zeros) */
static VTGT void QS_VN(wv_lanes)(float *vb, size_t vs, const float *xc,
                                 const qs_ck_wgeo *w, int tv)
{
    float g[4][2][2 * VL];
    memset(g, 0, sizeof(g));
    for (int l = 0; l < VL && tv + l < w->ntile; l++) {
        const int t = tv + l, ty = t / w->tw, tx = t % w->tw;
        for (int i = 0; i < 4; i++) {
            const float *e = xc + (size_t)(2 * ty + i) * 2 * w->pl + tx;
            g[i][0][l] = e[0];
            g[i][0][VL + l] = e[1];
            g[i][1][l] = e[w->pl];
            g[i][1][VL + l] = e[w->pl + 1];
        }
    }
    QS_VN(wv_body)(vb, vs, &g[0][0][0], 4 * VL, 2 * VL, VL, 0, 0);
}

/* Where a block's vectors of tiles are, worked out once per block (the
 * divisions by tw cost more than a vector's transform): per input vector
 * its mode (0 lane by lane, 1 one tile row, 2 two half rows) and offset in
 * a channel's copy; per output half-vector (VL/2 tiles in one tile row, or
 * lane by lane when fast is 0) its offset in a Y plane. A block is nv <=
 * QS_CK_WPV vectors. */
typedef struct {
    int nv, tb;
    int mode[QS_CK_WPV], fast[QS_CK_WPV];
    size_t eoff[QS_CK_WPV], yoff[2 * QS_CK_WPV];
} QS_VN(wplan);

static void QS_VN(wplan_of)(QS_VN(wplan) *b, const qs_ck_wgeo *w, int tb,
                            int nv)
{
    const int tw = w->tw;
    b->nv = nv;
    b->tb = tb;
    for (int v = 0; v < nv; v++) {
        const int tv = tb + v * VL, ty = tv / tw, tx = tv % tw;
        const int whole = tv + VL <= w->ntile;
        b->mode[v] = !whole ? 0 : tw % VL == 0 ? 1 : 2 * tw == VL ? 2 : 0;
        b->eoff[v] = (size_t)2 * ty * 2 * w->pl + tx;
        b->fast[v] = whole && tw % (VL / 2) == 0;
        for (int h = 0; h < 2; h++) {
            const int t = tv + h * VL / 2;
            b->yoff[2 * v + h] = (size_t)2 * (t / tw) * w->wo + 2 * (t % tw);
        }
    }
}

/* vb rows of stride vs (one channel's, the block's tiles) <- the input
 * transform of that channel's copy xc */
static VTGT void QS_VN(wv_block)(float *vb, size_t vs, const float *xc,
                                 const qs_ck_wgeo *w, const QS_VN(wplan) *b)
{
    const int pl = w->pl;
    for (int v = 0; v < b->nv; v++) {
        const float *e = xc + b->eoff[v];
        float *o = vb + v * VL;
        if (b->mode[v] == 1)
            QS_VN(wv_body)(o, vs, e, 2 * pl, pl, 1, 0, 0);
        else if (b->mode[v] == 2) /* the second half two padded rows on */
            QS_VN(wv_body)(o, vs, e, 2 * pl, pl, 1, (ptrdiff_t)4 * pl, 1);
        else
            QS_VN(wv_lanes)(o, vs, xc, w, b->tb + v * VL);
    }
}

