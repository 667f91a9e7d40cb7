/* `qsweep export --from CK --out FILE`: the integer weight codes, per-layer
 * step sizes and PACT clips of a quantized checkpoint as a JSON file
 * (format: docs/export.md). One JSON summary line on stdout. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cmd.h"
#include "err.h"
#include "export.h"
#include "model.h"
#include "train.h"

static const qs_opt export_opts[] = {
    {"--from", "CK", "a retrain or clr checkpoint (required)"},
    {"--out", "FILE", "the JSON file to write (required)"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec export_spec = {
    "export", "export --from CK --out FILE", export_opts,
    "writes the integer weight codes, step sizes, PACT alphas and float\n"
    "biases / BN of a retrain or clr checkpoint as JSON (docs/export.md)\n",
    0, 0, NULL};

/* A path as a JSON string: quotes, backslashes and control bytes escaped. */
static void put_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int qs_cmd_export(int argc, char **argv)
{
    const char *from = NULL, *out = NULL;
    qs_model m;
    qs_ckpt_info info;
    qs_export e;
    int rc;
    memset(&m, 0, sizeof m);
    memset(&e, 0, sizeof e);
    qs_args a;
    if ((rc = qs_args_parse(&a, &export_spec, argc, argv)) >= 0)
        return rc;
    from = qs_arg(&a, "--from");
    out = qs_arg(&a, "--out");
    if (!from || !out)
        return qs_args_fail(&export_spec, "--from CK and --out FILE are required");
    if ((rc = qs_model_load_ckpt(&m, &info, from, 1)))
        goto done;
    if ((rc = qs_export_from_model(&e, &m, qs_phase_name(info.phase), info.epoch_done,
                                   info.epochs))) {
        rc = qs_err_wrap(rc, "%s", from);
        goto done;
    }
    if ((rc = qs_export_write_json(&e, out)))
        goto done;
    qs_model_cost cost;
    qs_model_cost_get(&cost, &m.cfg);
    int nw = 0, na = 0;
    for (int i = 0; i < e.n; i++) {
        qs_node_type t = e.nodes[i].type;
        nw += t == QS_NODE_CONV || t == QS_NODE_DWCONV || t == QS_NODE_LINEAR;
        na += t == QS_NODE_RELU && e.nodes[i].abits < 32;
    }
    printf("{\"model\":\"%s\",\"phase\":\"%s\",\"epoch\":%d,\"wbits\":%d,\"abits\":%d,"
           "\"weight_layers\":%d,\"pact_layers\":%d,\"model_bits\":%.0f,\"bops\":%.0f,"
           "\"out\":",
           e.model, e.phase, e.epoch_done, m.cfg.wbits, m.cfg.abits, nw, na, cost.model_bits,
           cost.bops);
    put_json_string(out);
    printf("}\n");
done:
    if (rc)
        fprintf(stderr, "qsweep export: %s\n", qs_errmsg());
    qs_export_free(&e);
    qs_model_free(&m);
    return qs_exit_status(rc);
}
