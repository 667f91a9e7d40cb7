/* Winograd F(2x2, 3x3) weight gradient: the per-image driver, written once
 * over the vector width; convk_dw.c includes this file after convk_dwk.h
 * (whose outer-product kernel, QS_VN(dwtab), runs the 16 GEMMs and whose
 * QS_VN(transpose_dy) lays dy out channels-last) and convk_wt.h (the input
 * transform), with QS_VL 16 and 8.
 *
 * With Y = A^T (U . V) A per tile and U = G g G^T, the exact gradient is
 * dU_xi [k][c] = sum over tiles of (A dY A^T)_xi [k] V_xi [c], then dg =
 * G^T dU G (convk_wino.c): 16 products per tile and channel pair instead
 * of 36. dU sums run over images, then tiles, in order, one FMA chain per
 * element with channels k in the lanes, as the direct kernel's do. */

/* wt [16][nb][kpad] (xi at stride xs, tile of the block, channel) <- A dY A^T of the
 * nb tiles from tb, dt = dy^T [p][kpad] of one image; junk tiles past the
 * last are zeros */
static VTGT void QS_VN(wdy_block)(float *wt, size_t xs, const float *dt,
                                  int kpad, const qs_ck_wgeo *g, int tb,
                                  int nb)
{
    int ty = tb / g->tw, tx = tb % g->tw; /* stepped, not divided, per tile */
    for (int l = 0; l < nb; l++, tx = tx + 1 < g->tw ? tx + 1 : (ty++, 0)) {
        const int t = tb + l;
        float *o = wt + (size_t)l * kpad;
        if (t >= g->ntile) {
            for (int xi = 0; xi < 16; xi++)
                memset(o + xi * xs, 0, sizeof(float) * kpad);
            continue;
        }
        const float *q0 = dt + ((size_t)2 * ty * g->wo + 2 * tx) * kpad,
                    *q2 = q0 + (size_t)g->wo * kpad;
        for (int kb = 0; kb < kpad; kb += VL) {
            const vf y00 = V_LOAD(q0 + kb), y01 = V_LOAD(q0 + kpad + kb),
                     y10 = V_LOAD(q2 + kb), y11 = V_LOAD(q2 + kpad + kb);
            /* A dY, rows then A^T on the columns */
            vf r[4][2];
            r[0][0] = y00;
            r[0][1] = y01;
            r[1][0] = V_ADD(y00, y10);
            r[1][1] = V_ADD(y01, y11);
            r[2][0] = V_SUB(y00, y10);
            r[2][1] = V_SUB(y01, y11);
            r[3][0] = V_SUB(V_ZERO(), y10);
            r[3][1] = V_SUB(V_ZERO(), y11);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                float *oi = o + (size_t)4 * i * xs + kb;
                V_STORE(oi, r[i][0]);
                V_STORE(oi + xs, V_ADD(r[i][0], r[i][1]));
                V_STORE(oi + 2 * xs, V_SUB(r[i][0], r[i][1]));
                V_STORE(oi + 3 * xs, V_SUB(V_ZERO(), r[i][1]));
            }
        }
    }
}

/* images [i0, i1) on thread t (qs_par_fn): dU share [16][c][kpad] */
static void QS_VN(run_wdwjob)(void *ctx, int t, int i0, int i1)
{
    const qs_ck_wdwjob *j = ctx;
    const qs_conv_shape *s = j->s;
    const qs_ck_wgeo *g = &j->g;
    const int c = s->c, k = s->k, p = s->ho * s->wo, kpad = j->kpad,
              nb = j->nb;
    const size_t xs = (size_t)c * s->h * s->w, ys = (size_t)k * p;
    const size_t cs = (size_t)(s->h + 2) * 2 * g->pl; /* one channel's copy */
    const size_t vs = (size_t)c * nb + QS_CK_SKEW,
                 ws = (size_t)nb * kpad + QS_CK_SKEW;
    float *part = j->scratch + (size_t)t * j->tfloats;
    float *dt = part + QS_CK_ALIGN((size_t)16 * c * kpad);
    float *xp = dt + QS_CK_ALIGN((size_t)p * kpad);
    float *vb = xp + qs_ck_wino_copy_len(s);
    float *wt = vb + QS_CK_ALIGN(16 * vs);
    /* rows of V per kernel call, sized evenly (31: 6 + 5 x 5, not 6 x 5 +
     * 1) */
    const qs_ck_panels cp = qs_ck_panels_of(c, MR);
    memset(part, 0, sizeof(float) * 16 * c * kpad);
    for (int i = i0; i < i1; i++) {
        QS_VN(transpose_dy)(dt, j->dy + i * ys, k, p, kpad);
        QS_VN(wpad)(xp, j->x + i * xs, s, g->pl);
        for (int tb = 0; tb < g->ntile; tb += nb) {
            QS_VN(wplan) bp;
            QS_VN(wplan_of)(&bp, g, tb, nb / VL);
            for (int ci = 0; ci < c; ci++)
                QS_VN(wv_block)(vb + (size_t)ci * nb, vs, xp + ci * cs, g,
                                &bp);
            QS_VN(wdy_block)(wt, ws, dt, kpad, g, tb, nb);
            for (int xi = 0; xi < 16; xi++)
                for (int kb = 0; kb < k; kb += 2 * VL) {
                    const int nv = k - kb > VL ? 2 : 1;
                    for (int q = 0; q < cp.npan; q++) {
                        const int c0 = qs_ck_panel_k0(&cp, q),
                                  mr = cp.base + (q < cp.extra);
                        const float *br[MR];
                        for (int r = 0; r < mr; r++)
                            br[r] = vb + xi * vs + (size_t)(c0 + r) * nb;
                        QS_VN(dwtab)[nv][mr](
                            br, 0, 0, 1, nb, wt + xi * ws + kb,
                            part + ((size_t)xi * c + c0) * kpad + kb, kpad);
                    }
                }
        }
    }
}
