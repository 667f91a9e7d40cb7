/* Writes the inputs and outputs of cross-layer equalisation for the PyTorch
 * reference (tests/reference/ptq_reference.py): two small random ResNets
 * (basic-8 and depthwise-11, width 4, 3x8x8 inputs) with random BN
 * statistics, folded and distorted per channel (tests/ptq_util.h), every
 * layer's weights and every pair's folded bias before and after
 * qs_cle_equalize (default settings), as JSON on stdout.
 *   build/tests/tool_ptq_ref > cle.json
 * A test tool, not part of bin/qsweep and not run by make test. */
#include <stdio.h>

#include "buf.h"
#include "cle.h"
#include "err.h"
#include "jsonw.h"
#include "ptq_util.h"

static void floats(qs_jw *w, const char *key, const float *v, long n)
{
    qs_jw_arr(w, key);
    for (long i = 0; i < n; i++)
        qs_jw_float(w, NULL, v[i]);
    qs_jw_end_arr(w);
}

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
        floats(w, "w", m->param + n->w_off, n->wlen);
        qs_jw_end_obj(w);
    }
    qs_jw_end_arr(w);
    qs_jw_arr(w, "bias");
    for (int k = 0; k < np; k++) {
        if (p[k].bn < 0)
            qs_jw_null(w, NULL);
        else
            floats(w, NULL, m->param + m->nodes[p[k].bn].b_off, m->nodes[p[k].prod].c);
    }
    qs_jw_end_arr(w);
    qs_jw_end_obj(w);
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
