/* Writes the inputs and outputs of cross-layer equalisation and of the
 * AdaRound objective for the PyTorch reference
 * (tests/reference/ptq_reference.py), as JSON on stdout:
 * - "models": two small random ResNets (basic-8 and depthwise-11, width 4,
 *   3x8x8 inputs) with random BN statistics, folded and distorted per
 *   channel (tests/ptq_util.h), every layer's weights and every pair's
 *   folded bias before and after qs_cle_equalize (default settings);
 * - "adaround": one 4-bit conv of a random basic-8 (per-tensor MSE step),
 *   8 random inputs, the float layer's outputs as targets, V (the init
 *   plus N(0, 0.3) noise), and qs_adaround_loss's value and dL/dV at
 *   beta 3, lambda 0.05.
 *   build/tests/tool_ptq_ref > cle.json
 * A test tool, not part of bin/qsweep and not run by make test. */
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "cle.h"
#include "err.h"
#include "adaround.h"
#include "jsonw.h"
#include "lsq.h"
#include "ptq_util.h"

/* The layers of the pairs and the pairs' biases, as they stand. */
static void state(qs_jw *w, const char *key, const qs_model *m, const qs_ptq_pair *p, int np)
{
    qs_jw_obj(w, key);
    qs_jw_arr(w, "layers");
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->type != QS_NODE_CONV && n->type != QS_NODE_DWCONV && n->type != QS_NODE_LINEAR)
            continue;
        qs_jw_obj(w, NULL);
        qs_jw_int(w, "node", i);
        qs_jw_str(w, "type", n->type == QS_NODE_CONV ? "conv" : n->type == QS_NODE_DWCONV ? "dwconv" : "linear");
        qs_jw_int(w, "c", n->c);
        qs_jw_floats(w, "w", m->param + n->w_off, n->wlen);
        qs_jw_end_obj(w);
    }
    qs_jw_end_arr(w);
    qs_jw_arr(w, "bias");
    for (int k = 0; k < np; k++) {
        if (p[k].bn < 0)
            qs_jw_null(w, NULL);
        else
            qs_jw_floats(w, NULL, m->param + m->nodes[p[k].bn].b_off, m->nodes[p[k].prod].c);
    }
    qs_jw_end_arr(w);
    qs_jw_end_obj(w);
}

/* The AdaRound case (see the top); rc as the library's. */
static int adaround_case(qs_jw *w)
{
    enum { NB = 8 };
    const double beta = 3.0, lambda = 0.05;
    qs_model m;
    qs_adaround_layer L;
    qs_rng r;
    int rc, node = -1;
    float *x = NULL, *t = NULL, *v = NULL, *dv = NULL;
    qs_rng_seed(&r, 31);
    qs_model_cfg c = pu_resnet(QS_BLOCK_BASIC, 8, 4, 4, 32);
    c.quantizer = QS_QUANT_LSQ;
    if ((rc = qs_model_build(&m, &c, NB)))
        return rc;
    qs_model_init(&m, &r);
    for (int i = 0; i < m.nnode; i++) {
        const qs_node *n = &m.nodes[i];
        if (n->step_off >= 0)
            qs_lsq_w_init(m.param + n->step_off, m.param + n->w_off, (size_t)n->wlen, n->nstep,
                          n->wbits, QS_LSQ_WINIT_MSE);
        if (node < 0 && n->type == QS_NODE_CONV && n->wbits == 4)
            node = i;
    }
    m.weights_dirty = 1;
    if ((rc = qs_adaround_layer_init(&L, &m, node, NB))) {
        qs_model_free(&m);
        return rc;
    }
    x = malloc(sizeof(float) * NB * L.in_len);
    t = malloc(sizeof(float) * NB * L.out_len);
    v = malloc(sizeof(float) * (size_t)L.wlen);
    dv = malloc(sizeof(float) * (size_t)L.wlen);
    if (!x || !t || !v || !dv) {
        rc = qs_err(QS_ENOMEM, "out of memory");
        goto cleanup;
    }
    const qs_node *n = &m.nodes[node];
    pu_normal(x, (size_t)NB * L.in_len, &r);
    qs_adaround_forward(t, &L, x, m.param + n->w_off, NB);
    qs_adaround_v_init(v, &L);
    for (long k = 0; k < L.wlen; k++)
        v[k] += 0.3f * (float)qs_rng_normal(&r);
    double loss = qs_adaround_loss(dv, &L, v, x, t, NB, beta, lambda);
    const qs_conv_shape *cs = &n->cs;
    qs_jw_obj(w, "adaround");
    qs_jw_int(w, "node", node);
    qs_jw_arr(w, "x_shape");
    qs_jw_int(w, NULL, NB);
    qs_jw_int(w, NULL, cs->c);
    qs_jw_int(w, NULL, cs->h);
    qs_jw_int(w, NULL, cs->w);
    qs_jw_end_arr(w);
    qs_jw_arr(w, "w_shape");
    qs_jw_int(w, NULL, cs->k);
    qs_jw_int(w, NULL, cs->c);
    qs_jw_int(w, NULL, cs->kh);
    qs_jw_int(w, NULL, cs->kw);
    qs_jw_end_arr(w);
    qs_jw_int(w, "stride", cs->stride);
    qs_jw_int(w, "pad", cs->pad);
    qs_jw_num(w, "beta", beta);
    qs_jw_num(w, "lambda", lambda);
    qs_jw_num(w, "zeta", QS_ADAROUND_ZETA);
    qs_jw_num(w, "gamma", QS_ADAROUND_GAMMA);
    qs_jw_num(w, "qp", L.g.qp);
    qs_jw_floats(w, "steps", L.g.s, L.g.nch);
    qs_jw_floats(w, "base", L.base, L.wlen);
    qs_jw_floats(w, "x", x, (long)(NB * L.in_len));
    qs_jw_floats(w, "t", t, (long)(NB * L.out_len));
    qs_jw_floats(w, "v", v, L.wlen);
    qs_jw_num(w, "loss", loss);
    qs_jw_floats(w, "dv", dv, L.wlen);
    qs_jw_end_obj(w);
cleanup:
    free(x);
    free(t);
    free(v);
    free(dv);
    qs_adaround_layer_free(&L);
    qs_model_free(&m);
    return rc;
}

int main(void)
{
    static const struct { qs_block b; int depth; const char *name; } cases[] = {
        {QS_BLOCK_BASIC, 8, "basic-8-4"},
        {QS_BLOCK_DEPTHWISE, 11, "depthwise-11-4"},
    };
    qs_buf out;
    qs_jw w;
    int rc = 0;
    qs_buf_init(&out);
    qs_jw_init(&w, &out);
    qs_jw_obj(&w, NULL);
    qs_jw_arr(&w, "models");
    for (int k = 0; k < 2 && !rc; k++) {
        qs_model m;
        qs_ptq_bnstats st;
        qs_rng r;
        qs_rng_seed(&r, 21 + k);
        qs_model_cfg c = pu_resnet(cases[k].b, cases[k].depth, 4, 32, 32);
        if ((rc = qs_model_build(&m, &c, 4)))
            break;
        qs_model_init(&m, &r);
        pu_random_bn(&m, &r, 0.0f);
        qs_ptq_pair p[64];
        int np = 0;
        if (!(rc = qs_ptq_fold_bn_stats(&m, &st, NULL))) {
            np = pu_pairs(p, 64, &m);
            pu_distort(&m, p, np, &r);
            qs_jw_obj(&w, NULL);
            qs_jw_str(&w, "model", cases[k].name);
            qs_jw_arr(&w, "pairs");
            for (int i = 0; i < np; i++) {
                qs_jw_arr(&w, NULL);
                qs_jw_int(&w, NULL, p[i].prod);
                qs_jw_int(&w, NULL, p[i].cons);
                qs_jw_end_arr(&w);
            }
            qs_jw_end_arr(&w);
            state(&w, "before", &m, p, np);
            qs_cle_cfg cfg;
            qs_cle_cfg_default(&cfg);
            qs_cle_report rep;
            if (!(rc = qs_cle_equalize(&rep, &m, &st, &cfg))) {
                qs_jw_int(&w, "sweeps", rep.sweeps);
                qs_jw_num(&w, "tol", cfg.tol);
                qs_jw_int(&w, "max_sweeps", cfg.max_sweeps);
                state(&w, "after", &m, p, np);
            }
            qs_jw_end_obj(&w);
            qs_ptq_bnstats_free(&st);
        }
        qs_model_free(&m);
    }
    qs_jw_end_arr(&w);
    if (!rc)
        rc = adaround_case(&w);
    qs_jw_end_obj(&w);
    if (rc || qs_buf_ok(&out) != QS_OK) {
        fprintf(stderr, "tool_ptq_ref: %s\n", rc ? qs_errmsg() : "out of memory");
        qs_buf_free(&out);
        return 1;
    }
    fwrite(out.p, 1, out.len, stdout);
    putchar('\n');
    qs_buf_free(&out);
    return 0;
}
