/* Model planning for grid expansion, memoised: planning a model (param
 * count, cost, width solving) costs microseconds to milliseconds; a
 * 100,000-phase grid has only a few hundred distinct models, so results
 * are kept by configuration. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grid_int.h"
#include "hash.h"

static uint64_t memo_hash(const gx_memo_key *k) { return qs_hash64(k, sizeof *k); }

static gx_memo_ent *memo_get(gx_memo *m, const gx_memo_key *k, int *fresh)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 256;
        gx_memo_ent *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->t[i].used) {
                size_t j = memo_hash(&m->t[i].key) & (cap - 1);
                while (t[j].used)
                    j = (j + 1) & (cap - 1);
                t[j] = m->t[i];
            }
        free(m->t);
        m->t = t;
        m->cap = cap;
    }
    size_t j = memo_hash(k) & (m->cap - 1);
    while (m->t[j].used) {
        if (memcmp(&m->t[j].key, k, sizeof *k) == 0) {
            *fresh = 0;
            return &m->t[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->t[j].used = 1;
    m->t[j].key = *k;
    m->n++;
    *fresh = 1;
    return &m->t[j];
}

void qs_gx_memo_free(gx_memo *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->t[i].msg);
    free(m->t);
    memset(m, 0, sizeof *m);
}

/* Validation, params and cost of one configuration (width set). */
const gx_memo_ent *qs_gx_model_info(gx_memo *m, const qs_model_cfg *c)
{
    gx_memo_key k;
    int fresh;
    memset(&k, 0, sizeof k);
    k.c = *c;
    gx_memo_ent *e = memo_get(m, &k, &fresh);
    if (!e || !fresh)
        return e;
    if ((e->rc = qs_model_cfg_validate(c)) == QS_OK)
        e->rc = qs_model_cost_get(&e->cost, c);
    if (e->rc == QS_OK && (e->nparams = qs_model_param_count(c)) < 0)
        e->rc = QS_EINVAL;
    if (e->rc != QS_OK)
        e->msg = strdup(qs_errmsg());
    return e;
}

/* The width whose count is nearest the budget (cfg->width ignored). */
const gx_memo_ent *qs_gx_model_solve(gx_memo *m, const qs_model_cfg *c, double params)
{
    gx_memo_key k;
    int fresh;
    memset(&k, 0, sizeof k);
    k.c = *c;
    k.c.width = 0;
    k.params = params;
    gx_memo_ent *e = memo_get(m, &k, &fresh);
    if (!e || !fresh)
        return e;
    qs_model_cfg t = *c;
    t.width = 1;
    if ((e->rc = qs_model_cfg_validate(&t)) == QS_OK)
        e->rc = qs_model_solve_width(&e->width, &t, params);
    if (e->rc != QS_OK)
        e->msg = strdup(qs_errmsg());
    return e;
}
