/* Winograd F(2x2, 3x3) forward: output transform and the per-image
 * driver, written once over the vector width; convk.c includes this file
 * after convk_k.h (whose micro-kernel, QS_VN(ktab), runs the 16 GEMMs)
 * and convk_wt.h (the input transform), with QS_VL 16 and 8. */

/* VL outputs at p (+)= v. Written, not added, to an output that
 * qs_stream_output() says is larger than the cache (stream), they bypass
 * it when p is aligned: the batch's output is read back only after every
 * image is done, from memory anyway, and a plain store would first read
 * each line in (+4-6 % at basic-20 k31). run_wjob fences before its images
 * are handed on. */
VINL void QS_VN(wput)(float *p, vf v, int acc, int stream)
{
    if (!acc && stream && ((uintptr_t)p & (sizeof(vf) - 1)) == 0) {
#if VL == 16
        _mm512_stream_ps(p, v);
#else
        _mm256_stream_ps(p, v);
#endif
        return;
    }
    V_STORE(p, acc ? V_ADD(v, V_LOAD(p)) : v);
}

/* Y plane yk (+)= A^T m A of the NR tiles from tb; m [16] rows of stride
 * ms. The rows are combined first (A^T m), one column phase at a time. */
static VTGT void QS_VN(wy_block)(float *yk, const float *mb, size_t ms,
                                 const qs_ck_wjob *j, const QS_VN(wplan) *b)
{
    const int tw = j->g.tw, wo = j->g.wo;
    for (int v = 0; v < b->nv; v++) {
        const float *m = mb + v * VL;
        vf s0[4], s1[4], y[4];
#pragma GCC unroll 4
        for (int jj = 0; jj < 4; jj++) {
            const vf m0 = V_LOAD(m + (size_t)jj * ms),
                     m1 = V_LOAD(m + (size_t)(4 + jj) * ms),
                     m2 = V_LOAD(m + (size_t)(8 + jj) * ms),
                     m3 = V_LOAD(m + (size_t)(12 + jj) * ms);
            s0[jj] = V_ADD(V_ADD(m0, m1), m2);
            s1[jj] = V_SUB(V_SUB(m1, m2), m3);
        }
        y[0] = V_ADD(V_ADD(s0[0], s0[1]), s0[2]);
        y[1] = V_SUB(V_SUB(s0[1], s0[2]), s0[3]);
        y[2] = V_ADD(V_ADD(s1[0], s1[1]), s1[2]);
        y[3] = V_SUB(V_SUB(s1[1], s1[2]), s1[3]);
        if (b->fast[v]) {
            vf r0[2], r1[2];
            QS_VN(wzip)(y[0], y[1], &r0[0], &r0[1]);
            QS_VN(wzip)(y[2], y[3], &r1[0], &r1[1]);
            for (int h = 0; h < 2; h++) {
                float *p = yk + b->yoff[2 * v + h];
                QS_VN(wput)(p, r0[h], j->acc, j->stream);
                QS_VN(wput)(p + wo, r1[h], j->acc, j->stream);
            }
            continue;
        }
        const int tv = b->tb + v * VL;
        float yl[4][VL];
        for (int q = 0; q < 4; q++)
            V_STORE(yl[q], y[q]);
        for (int l = 0; l < VL && tv + l < j->g.ntile; l++) {
            const int t = tv + l, ty = t / tw, tx = t % tw;
            float *p = yk + (size_t)2 * ty * wo + 2 * tx;
            for (int q = 0; q < 4; q++) {
                float *o = p + (q >> 1) * wo + (q & 1);
                *o = j->acc ? yl[q][l] + *o : yl[q][l];
            }
        }
    }
}

/* images [i0, i1) on thread t (qs_par_fn) */
static void QS_VN(run_wjob)(void *ctx, int t, int i0, int i1)
{
    const qs_ck_wjob *j = ctx;
    const qs_conv_shape *s = j->s;
    const int c = s->c, k = s->k, p = s->ho * s->wo, pl = j->g.pl;
    const size_t xs = (size_t)c * s->h * s->w, ys = (size_t)k * p;
    const size_t cs = (size_t)(s->h + 2) * 2 * pl; /* one channel's copy */
    const size_t vs = (size_t)c * NR + QS_CK_SKEW,
                 ms = (size_t)k * NR + QS_CK_SKEW;
    float *xp = j->tbuf + (size_t)t * j->tfloats;
    float *vb = xp + QS_CK_ALIGN(c * cs);
    float *mb = vb + QS_CK_ALIGN(16 * vs);
    const qs_ck_panels pn = qs_ck_panels_of(k, MR);
    const ptrdiff_t d[3] = {VL, 0, 0};
    for (int i = i0; i < i1; i++) {
        float *yi = j->y + i * ys;
        QS_VN(wpad)(xp, j->x + i * xs, s, pl);
        for (int tb = 0; tb < j->g.ntile; tb += NR) {
            QS_VN(wplan) bp;
            QS_VN(wplan_of)(&bp, &j->g, tb, NR / VL);
            for (int ci = 0; ci < c; ci++)
                QS_VN(wv_block)(vb + (size_t)ci * NR, vs, xp + ci * cs, &j->g,
                                &bp);
            for (int xi = 0; xi < 16; xi++)
                for (int q = 0; q < pn.npan; q++) {
                    const int k0 = qs_ck_panel_k0(&pn, q),
                              mr = pn.base + (q < pn.extra);
                    QS_VN(ktab)[0][mr](c, j->up + (size_t)xi * k * c +
                                              (size_t)k0 * c,
                                       vb + xi * vs, j->koff, d,
                                       mb + xi * ms + (size_t)k0 * NR);
                }
            for (int ko = 0; ko < k; ko++)
                QS_VN(wy_block)(yi + (size_t)ko * p, mb + (size_t)ko * NR,
                                ms, j, &bp);
        }
    }
    if (j->stream)
        qs_stream_fence(); /* before another thread reads y */
}
