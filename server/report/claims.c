/* The paper's claims on our cells (cells.h, docs/verdicts.md). Every claim
 * is a conjunction of comparisons "row a beats row b" inside a block at
 * the sweep's equal budget; each comparison is a difference of two cells'
 * means with Welch's 95 % interval over their per-seed values, and the
 * claim holds only when every comparison holds. Rows are picked from the
 * depths the sweep has, so a reduced design (other depths, other budget)
 * is judged by the same rules as the paper's 17 rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"

#define LEVEL 0.95
#define MAXROWS 256

/* The claims are read from our cells when a database was read, else from
 * the published numbers (which then only give the published difference:
 * one number a cell has no spread). */
static int has(const qs_cells *t, const qs_cells_row *r, int s)
{
    return t->have_ours ? r->ours[s].n > 0 : !isnan(r->paper[s]);
}

static double val(const qs_cells *t, const qs_cells_row *r, int s)
{
    return t->have_ours ? r->ours[s].mean : r->paper[s];
}

/* Rows of block with a value in every column of cols (t is sorted by depth). */
static int block_rows(const qs_cells *t, const char *block, const int *cols, int ncols,
                      const qs_cells_row **out)
{
    int n = 0;
    for (int i = 0; i < t->n && n < MAXROWS; i++) {
        const qs_cells_row *r = &t->r[i];
        int ok = !strcmp(r->block, block);
        for (int k = 0; ok && k < ncols; k++)
            ok = has(t, r, cols[k]);
        if (ok)
            out[n++] = r;
    }
    return n;
}

static qs_cmp *next_cmp(qs_claim *c)
{
    if (c->ncmp == QS_CLAIM_MAXCMP)
        return NULL;
    qs_cmp *m = &c->cmp[c->ncmp++];
    memset(m, 0, sizeof *m);
    return m;
}

/* Row a's column sa against row b's column sb. */
static void cmp_cells(qs_claim *c, const qs_cells *t, const qs_cells_row *a, int sa,
                      const qs_cells_row *b, int sb, const char *what)
{
    qs_cmp *m = next_cmp(c);
    if (!m)
        return;
    snprintf(m->what, sizeof m->what, "%s", what);
    snprintf(m->a, sizeof m->a, "%s-%d %s", a->block, a->depth, qs_cells_col_label(t, sa));
    snprintf(m->b, sizeof m->b, "%s-%d %s", b->block, b->depth, qs_cells_col_label(t, sb));
    qs_welch_interval(&m->w, a->ours[sa].v, a->ours[sa].n, b->ours[sb].v, b->ours[sb].n, LEVEL);
    m->published = a->paper[sa] - b->paper[sb];
}

/* Per-seed float -> W2A2 drop of a row: for each seed with both cells,
 * its float accuracy minus its W2A2 accuracy (means over the seed's
 * phases when a seed has several, e.g. two protocols in one selection). */
static int drops(const qs_cells_row *r, double *out)
{
    const qs_cell *f = &r->ours[QS_PAPER_FLOAT], *q = &r->ours[QS_PAPER_W2A2];
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        int first = 1;
        for (int k = 0; k < i; k++)
            first &= f->seed[k] != f->seed[i];
        if (!first)
            continue;
        double fs = 0, qs = 0;
        int fn = 0, qn = 0;
        for (int k = 0; k < f->n; k++)
            if (f->seed[k] == f->seed[i])
                fs += f->v[k], fn++;
        for (int k = 0; k < q->n; k++)
            if (q->seed[k] == f->seed[i])
                qs += q->v[k], qn++;
        if (qn)
            out[n++] = fs / fn - qs / qn;
    }
    return n;
}

static void cmp_drops(qs_claim *c, const qs_cells_row *a, const qs_cells_row *b)
{
    qs_cmp *m = next_cmp(c);
    if (!m)
        return;
    double da[QS_CELL_MAXVALS], db[QS_CELL_MAXVALS];
    int na = drops(a, da), nb = drops(b, db);
    snprintf(m->what, sizeof m->what, "%s-%d vs %s-%d", a->block, a->depth, b->block, b->depth);
    snprintf(m->a, sizeof m->a, "%s-%d drop", a->block, a->depth);
    snprintf(m->b, sizeof m->b, "%s-%d drop", b->block, b->depth);
    qs_welch_interval(&m->w, da, na, db, nb, LEVEL);
    m->published = (a->paper[QS_PAPER_FLOAT] - a->paper[QS_PAPER_W2A2]) -
                   (b->paper[QS_PAPER_FLOAT] - b->paper[QS_PAPER_W2A2]);
}

static const char *const blocks[] = {"basic", "preact", "depthwise"};

/* 1. Each block with two or more depths: the middle depth (the upper
 * middle of an even count) against the shallowest, float. A fixed pair
 * rather than the best depth: picking the best of several by its mean
 * would favour the claim beyond what the interval says. */
static void claim_depth_helps(qs_claim *c, const qs_cells *t)
{
    const qs_cells_row *b[MAXROWS];
    int cols[] = {QS_PAPER_FLOAT};
    for (int k = 0; k < 3; k++) {
        int m = block_rows(t, blocks[k], cols, 1, b);
        if (m < 2)
            continue;
        char what[96];
        snprintf(what, sizeof what, "%s: depth %d vs %d", blocks[k], b[m / 2]->depth, b[0]->depth);
        cmp_cells(c, t, b[m / 2], QS_PAPER_FLOAT, b[0], QS_PAPER_FLOAT, what);
    }
}

/* 2. basic and preact: the depth nearest 14 among the shallower ones
 * (the shallower on a tie) against the deepest, W2A2. */
static void claim_deep_falls(qs_claim *c, const qs_cells *t)
{
    const qs_cells_row *b[MAXROWS];
    int cols[] = {QS_PAPER_W2A2};
    for (int k = 0; k < 2; k++) {
        int m = block_rows(t, blocks[k], cols, 1, b), ref = 0;
        if (m < 2)
            continue;
        for (int i = 1; i < m - 1; i++)
            if (abs(b[i]->depth - 14) < abs(b[ref]->depth - 14))
                ref = i;
        char what[96];
        snprintf(what, sizeof what, "%s: depth %d vs %d", blocks[k], b[ref]->depth,
                 b[m - 1]->depth);
        cmp_cells(c, t, b[ref], QS_PAPER_W2A2, b[m - 1], QS_PAPER_W2A2, what);
    }
}

/* 3. The float -> W2A2 drop of preact against basic at the deepest depth
 * both have, and against depthwise's deepest row (depthwise depths are
 * 9n + 2, never a basic one). */
static void claim_preact_drops(qs_claim *c, const qs_cells *t)
{
    const qs_cells_row *p[MAXROWS], *o[MAXROWS];
    int cols[] = {QS_PAPER_FLOAT, QS_PAPER_W2A2};
    int np = block_rows(t, "preact", cols, 2, p);
    if (!np)
        return;
    int nb = block_rows(t, "basic", cols, 2, o);
    for (int i = np - 1, done = 0; i >= 0 && !done; i--)
        for (int k = 0; k < nb && !done; k++)
            if (o[k]->depth == p[i]->depth) {
                cmp_drops(c, p[i], o[k]);
                done = 1;
            }
    int nd = block_rows(t, "depthwise", cols, 2, o);
    if (nd)
        cmp_drops(c, p[np - 1], o[nd - 1]);
}

static int favoured(const qs_cells_row *r)
{
    return (!strcmp(r->block, "basic") && r->depth <= 14) ||
           (!strcmp(r->block, "depthwise") && r->depth <= 38);
}

/* 4. W2A2: the best row (highest mean) among basic <= 14 and depthwise
 * <= 38 against the best of the others. The interval is that of the two
 * rows picked; the picking itself is not in it. */
static void claim_best_design(qs_claim *c, const qs_cells *t)
{
    const qs_cells_row *best[2] = {NULL, NULL};
    for (int i = 0; i < t->n; i++) {
        const qs_cells_row *r = &t->r[i];
        int k = favoured(r) ? 0 : 1;
        if (has(t, r, QS_PAPER_W2A2) &&
            (!best[k] || val(t, r, QS_PAPER_W2A2) > val(t, best[k], QS_PAPER_W2A2)))
            best[k] = r;
    }
    if (!best[0] || !best[1])
        return;
    char what[96];
    snprintf(what, sizeof what, "best %s-%d vs best other %s-%d", best[0]->block, best[0]->depth,
             best[1]->block, best[1]->depth);
    cmp_cells(c, t, best[0], QS_PAPER_W2A2, best[1], QS_PAPER_W2A2, what);
}

/* 5. Table 4, each depth with either column: W2A2 + Lipschitz + CLR
 * against plain W2A2. */
static void claim_lip_clr(qs_claim *c, const qs_cells *t)
{
    for (int i = 0; i < t->n; i++) {
        const qs_cells_row *r = &t->r[i];
        if (!has(t, r, QS_PAPER_T4_W2A2) && !has(t, r, QS_PAPER_T4_W2A2_LIP_CLR))
            continue;
        char what[96];
        snprintf(what, sizeof what, "depth %d", r->depth);
        cmp_cells(c, t, r, QS_PAPER_T4_W2A2_LIP_CLR, r, QS_PAPER_T4_W2A2, what);
    }
}

/* Every comparison must hold: one contradicted contradicts the claim (the
 * one with the lowest upper bound decides), else one within noise leaves
 * it within noise (the lowest lower bound), else one without enough data
 * leaves it undecided; when all hold, the weakest (lowest lower bound)
 * is the one shown. */
static void decide(qs_claim *c)
{
    static const qs_verdict order[] = {QS_V_CONTRA, QS_V_NOISE, QS_V_NODATA, QS_V_HOLDS};
    c->v = QS_V_NODATA;
    c->decisive = -1;
    for (int o = 0; o < 4 && c->decisive < 0; o++)
        for (int i = 0; i < c->ncmp; i++) {
            const qs_welch *w = &c->cmp[i].w;
            if (w->v != order[o])
                continue;
            const qs_welch *d = c->decisive >= 0 ? &c->cmp[c->decisive].w : NULL;
            if (!d || (order[o] == QS_V_CONTRA ? w->hi < d->hi : w->lo < d->lo))
                c->decisive = i;
            c->v = order[o];
            if (order[o] == QS_V_NODATA)
                break;
        }
}

int qs_claims_eval(qs_claim *out, const qs_cells *t)
{
    static const struct {
        const char *text, *rule;
        void (*fn)(qs_claim *, const qs_cells *);
    } t5[] = {
        {"float: at equal budget a deeper, narrower network beats the shallowest, widest one",
         "each block with 2+ depths: the middle depth (upper middle of an even count) vs the "
         "shallowest",
         claim_depth_helps},
        {"W2A2: past about depth 14 accuracy falls, for basic and pre-activation blocks",
         "basic and preact: the depth nearest 14 below the deepest (the shallower on a tie) vs "
         "the deepest",
         claim_deep_falls},
        {"the pre-activation block loses the most from float to W2A2",
         "per-seed float - W2A2 drop: preact vs basic at the deepest depth both have; preact's "
         "deepest vs depthwise's deepest",
         claim_preact_drops},
        {"the best W2A2 design is basic at depth <= 14 or depthwise at depth <= 38",
         "W2A2: the best of those rows vs the best other row (best = highest mean)",
         claim_best_design},
    },
      t4[] = {{"Lipschitz + CLR raises W2A2 at every depth",
               "each depth: W2A2 + Lipschitz + CLR vs plain W2A2", claim_lip_clr}};
    int n = t->table4 ? 1 : 4;
    for (int i = 0; i < n; i++) {
        qs_claim *c = &out[i];
        memset(c, 0, sizeof *c);
        c->id = t->table4 ? 5 : i + 1;
        c->text = t->table4 ? t4[i].text : t5[i].text;
        c->rule = t->table4 ? t4[i].rule : t5[i].rule;
        (t->table4 ? t4[i].fn : t5[i].fn)(c, t);
        decide(c);
    }
    return n;
}
