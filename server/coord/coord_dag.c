/* The phase DAG's parent links for the coordinator. */
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "err.h"

/* The first 16 hex digits of an id as a number. */
static size_t id_key(const char *id)
{
    char head[17];
    memcpy(head, id, 16);
    head[16] = 0;
    return (size_t)strtoull(head, NULL, 16);
}

/* Parent indices through an open-addressing table keyed by the ids (which
 * are hashes already): linear in the number of phases, 100,000 included. */
int qs_coord_link_parents(int *parent, const qs_grid *g)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)g->njobs + 2)
        cap *= 2;
    int *slot = malloc(cap * sizeof(int));
    if (!slot)
        return qs_err(QS_ENOMEM, "out of memory for %d phases", g->njobs);
    for (size_t i = 0; i < cap; i++)
        slot[i] = -1;
    for (int j = 0; j < g->njobs; j++) {
        size_t h = id_key(g->jobs[j].id);
        for (h &= cap - 1; slot[h] >= 0; h = (h + 1) & (cap - 1))
            ;
        slot[h] = j;
    }
    for (int j = 0; j < g->njobs; j++) {
        parent[j] = -1;
        if (!g->jobs[j].parent[0])
            continue;
        size_t h = id_key(g->jobs[j].parent);
        for (h &= cap - 1; slot[h] >= 0; h = (h + 1) & (cap - 1))
            if (strcmp(g->jobs[slot[h]].id, g->jobs[j].parent) == 0) {
                parent[j] = slot[h];
                break;
            }
    }
    free(slot);
    return QS_OK;
}
