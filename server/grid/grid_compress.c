/* The grid's "compress" block (grid.md, "compress"): SVD compression
 * phases, children of every float phase, one per energy or parameter
 * fraction value. Read here; expanded by grid_expand.c through
 * qs_gx_proto_compress. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "grid_int.h"

/* A number or a list of numbers at path, each in the method's range. */
static void read_values(gx_spec *s, const cJSON *it, const char *path, int params, gx_errs *e)
{
    const cJSON *one = cJSON_IsArray(it) ? it->child : it;
    if (cJSON_IsArray(it) && !one) {
        qs_gx_err(e, path, "is empty (give at least one value)");
        return;
    }
    for (int i = 0; one; one = cJSON_IsArray(it) ? one->next : NULL, i++) {
        char p[GX_PATH_LEN];
        double v;
        if (cJSON_IsArray(it))
            qs_gx_sub_idx(p, path, i);
        else
            snprintf(p, sizeof p, "%s", path);
        if (s->ncompress == GX_MAX_COMPRESS) {
            qs_gx_err(e, p, "more than %d values", GX_MAX_COMPRESS);
            return;
        }
        if (!qs_gx_get_num(&v, one, p, 0, 1, 1, e))
            continue;
        if (params && v >= 1) { /* a fraction of 1 keeps the model: nothing to compress */
            qs_gx_err(e, p, "%g is out of range (allowed: above 0..below 1, the fraction of "
                      "the parameters kept)", v);
            continue;
        }
        for (int k = 0; k < s->ncompress; k++)
            if (s->compress_v[k] == v) {
                qs_gx_err(e, p, "%g is given twice", v);
                v = -1;
                break;
            }
        if (v > 0)
            s->compress_v[s->ncompress++] = v;
    }
}

void qs_gx_parse_compress(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    static const char *const keys[] = {"method", "energy", "params", "epochs", "first_last", NULL};
    static const char *const methods[] = {"svd", NULL};
    const cJSON *it;
    int x;
    long long ll;
    if (!qs_gx_want_object(obj, "compress", e))
        return;
    qs_gx_check_keys(obj, "compress", keys, e);
    if (!(it = cJSON_GetObjectItemCaseSensitive(obj, "method")))
        qs_gx_err(e, "compress.method", "missing (allowed: svd)");
    else
        qs_gx_get_enum(&x, it, "compress.method", methods, e);
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(obj, "energy");
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(obj, "params");
    if (en && pa)
        qs_gx_err(e, "compress", "give \"energy\" or \"params\", not both");
    else if (!en && !pa)
        qs_gx_err(e, "compress", "missing \"energy\" (kept energy per layer, 0 < e <= 1) or "
                  "\"params\" (fraction of the parameters kept, 0 < F < 1)");
    s->compress_params = pa && !en;
    if (en && !pa)
        read_values(s, en, "compress.energy", 0, e);
    else if (pa && !en)
        read_values(s, pa, "compress.params", 1, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "epochs")) &&
        qs_gx_get_int(&ll, it, "compress.epochs", 0, QS_MAX_EPOCHS, e))
        s->compress_epochs = (int)ll;
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "first_last")))
        qs_gx_get_bool(&s->compress_first_last, it, "compress.first_last", e);
}
