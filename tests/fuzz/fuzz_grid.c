/* libFuzzer target: a grid file's text through parsing, validation and
 * expansion (qs_grid_parse, as `qsweep expand` and the sweep read one;
 * no data files are looked at). Seeds: tests/fuzz/seeds/grid/ and the
 * shipped sweeps/ (copied by `make fuzz`). docs/fuzzing.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* qs_grid_load refuses a file with a NUL byte before parsing. */
    if (memchr(data, 0, size))
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    qs_grid g;
    char *errors = NULL;
    if (qs_grid_parse(&g, text, "fuzz.json", 0, &errors) == 0) {
        /* Every phase's parent comes before it and is found by id. */
        for (int i = 0; i < g.njobs; i++)
            if (g.jobs[i].parent[0] && qs_grid_find(&g, g.jobs[i].parent) >= i)
                abort();
        qs_grid_free(&g);
    }
    free(errors);
    free(text);
    return 0;
}
