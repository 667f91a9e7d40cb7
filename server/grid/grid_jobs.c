/* The phase table of an expanded grid: the id index behind qs_grid_find
 * (open addressing over the ids' own hash bits), the final order of the
 * phases, and freeing. grid_expand.c fills it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grid_int.h"

static uint64_t id_hash(const char *id)
{
    /* Ids are already uniform hashes: their first 16 hex chars will do. */
    uint64_t h = 0;
    for (int i = 0; i < 16 && id[i]; i++) {
        char c = id[i];
        h = (h << 4) | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return h;
}

int qs_gx_index_insert(qs_grid *g, int job)
{
    if (2 * (g->njobs + 1) > g->index_cap) {
        int cap = g->index_cap ? 2 * g->index_cap : 1024;
        int *t = malloc((size_t)cap * sizeof *t);
        if (!t)
            return QS_ENOMEM;
        for (int i = 0; i < cap; i++)
            t[i] = -1;
        free(g->index);
        g->index = t;
        g->index_cap = cap;
        /* Rehash what is there (job is not counted in njobs yet). */
        for (int i = 0; i < g->njobs; i++) {
            if (i == job)
                continue;
            size_t j = id_hash(g->jobs[i].id) & (size_t)(cap - 1);
            while (t[j] >= 0)
                j = (j + 1) & (size_t)(cap - 1);
            t[j] = i;
        }
    }
    size_t j = id_hash(g->jobs[job].id) & (size_t)(g->index_cap - 1);
    while (g->index[j] >= 0)
        j = (j + 1) & (size_t)(g->index_cap - 1);
    g->index[j] = job;
    return QS_OK;
}

int qs_grid_find(const qs_grid *g, const char *id)
{
    if (!g->index_cap || !id)
        return -1;
    size_t j = id_hash(id) & (size_t)(g->index_cap - 1);
    while (g->index[j] >= 0) {
        if (strcmp(g->jobs[g->index[j]].id, id) == 0)
            return g->index[j];
        j = (j + 1) & (size_t)(g->index_cap - 1);
    }
    return -1;
}

static int index_rebuild(qs_grid *g)
{
    int n = g->njobs;
    free(g->index);
    g->index = NULL;
    g->index_cap = 0;
    g->njobs = 0;
    for (int i = 0; i < n; i++) {
        g->njobs = i;
        if (qs_gx_index_insert(g, i))
            return QS_ENOMEM;
    }
    g->njobs = n;
    return QS_OK;
}

/* Sort: parents first (float, retrain, clr), then the longest expected
 * phase first so big jobs do not straggle at the end, then id (stable
 * order for equal cost). */
static int job_cmp_idx(const void *a, const void *b, void *jobs)
{
    const qs_grid_job *x = (const qs_grid_job *)jobs + *(const int *)a;
    const qs_grid_job *y = (const qs_grid_job *)jobs + *(const int *)b;
    if (x->phase != y->phase)
        return x->phase < y->phase ? -1 : 1;
    if (x->gflop != y->gflop)
        return x->gflop > y->gflop ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Sorts g->jobs by job_cmp through an index array (a job is a few hundred
 * bytes: moving indices, then each job once, is much cheaper than letting
 * qsort move jobs), then rebuilds the id table. */
int qs_gx_sort_jobs(qs_grid *g)
{
    int n = g->njobs;
    int *ord = malloc(((size_t)n + 1) * sizeof *ord);
    qs_grid_job *sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    if (!ord || !sorted) {
        free(ord);
        free(sorted);
        return qs_err(QS_ENOMEM, "out of memory sorting %d phases", n);
    }
    for (int i = 0; i < n; i++)
        ord[i] = i;
    qsort_r(ord, (size_t)n, sizeof *ord, job_cmp_idx, g->jobs);
    for (int i = 0; i < n; i++)
        sorted[i] = g->jobs[ord[i]];
    free(g->jobs);
    g->jobs = sorted;
    free(ord);
    return index_rebuild(g);
}

void qs_grid_free(qs_grid *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->njobs; i++)
        free(g->jobs[i].config);
    free(g->jobs);
    free(g->index);
    free(g->name);
    free(g->text);
    free(g->path);
    free(g->data_dir);
    memset(g, 0, sizeof *g);
}
