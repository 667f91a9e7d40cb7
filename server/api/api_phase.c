/* One phase: /api/curves (its per-epoch rows), /api/bits (its learned bit
 * widths) and /api/decision_map (its decision map, decompressed). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api.h"
#include "api_json.h"
#include "db_lock.h"
#include "api_png.h"

static const char phase_sql[] =
    "SELECT id AS phase_id, parent_id, phase, status, dataset, arch, model, block, depth, width,"
    " residual, params, wbits, abits, regularizer, clr, seed, epochs, epochs_done, test_acc,"
    " test_loss, train_acc, train_loss, seconds, error, started, finished, updated"
    " FROM phases WHERE id = ?";

static const char epochs_sql[] =
    "SELECT epoch, lr, train_loss, train_acc, test_loss, test_acc, lipschitz, seconds, img_per_s"
    " FROM epochs WHERE phase_id = ? ORDER BY epoch";

/* sql (?1 = id) prepared into *st and stepped to its first row; no row is
 * the 404 naming the phase, with *st NULL and QS_OK. */
static int phase_row(qs_api_req *r, const char *sql, const char *id, sqlite3_stmt **st)
{
    int rc = qs_api_prepare(r->db, sql, st);
    if (rc)
        return rc;
    sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
    int s = qs_api_step(*st);
    if (s == SQLITE_ROW)
        return QS_OK;
    sqlite3_finalize(*st);
    *st = NULL;
    if (s != SQLITE_DONE)
        return QS_EINTERNAL;
    qs_resp_error(r->resp, 404, "phase_id", "no phase %s in this database", id);
    return QS_OK;
}

int qs_api_curves(qs_api_req *r)
{
    const char *id;
    sqlite3_stmt *st = NULL;
    int rc = qs_api_phase_id(r, "phase_id", &id, 1);
    if (rc)
        return rc;
    if ((rc = phase_row(r, phase_sql, id, &st)) || !st)
        goto cleanup;
    int live = qs_db_running_is_live(r->db);
    if (live < 0) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_row(&w, "run", st);
    qs_jw_bool(&w, "running_live", live);
    sqlite3_finalize(st);
    st = NULL;

    rc = qs_api_prepare(r->db, epochs_sql, &st);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    /* Column arrays ({"epoch": [...], "test_acc": [...]}) rather than row
     * objects: a third of the size, and what a chart wants. Rows are
     * buffered per column, then written column by column. */
    int ncol = sqlite3_column_count(st);
    qs_buf cols[16];
    if (ncol > 16)
        ncol = 16;
    for (int i = 0; i < ncol; i++)
        qs_buf_init(&cols[i]);
    long n = 0;
    int s;
    while ((s = qs_api_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncol; i++) {
            if (n)
                qs_buf_add(&cols[i], ",", 1);
            if (sqlite3_column_type(st, i) == SQLITE_NULL)
                qs_buf_add(&cols[i], "null", 4);
            else if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
                qs_buf_printf(&cols[i], "%lld", (long long)sqlite3_column_int64(st, i));
            else
                qs_buf_json_num(&cols[i], sqlite3_column_double(st, i));
        }
        n++;
    }
    if (s != SQLITE_DONE)
        rc = QS_EINTERNAL;
    qs_jw_int(&w, "n", n);
    qs_jw_obj(&w, "epochs");
    for (int i = 0; i < ncol; i++) {
        qs_jw_arr(&w, sqlite3_column_name(st, i));
        if (cols[i].oom)
            r->resp->body.oom = 1;
        if (cols[i].len)
            qs_buf_add(&r->resp->body, cols[i].p, cols[i].len);
        qs_jw_end_arr(&w);
        qs_buf_free(&cols[i]);
    }
    qs_jw_end_obj(&w);
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

int qs_api_bits(qs_api_req *r)
{
    const char *id;
    sqlite3_stmt *st = NULL;
    int rc = qs_api_phase_id(r, "phase_id", &id, 1);
    if (rc)
        return rc;
    if ((rc = phase_row(r, "SELECT 1 FROM phases WHERE id = ?", id, &st)) || !st)
        goto cleanup;
    sqlite3_finalize(st);
    st = NULL;
    /* In layer order; empty for a phase without learned widths, or one
     * that is not done yet. */
    if ((rc = qs_api_prepare(r->db, "SELECT layer, node, kind, bits, count FROM phase_bits"
                                    " WHERE phase_id = ? ORDER BY layer", &st)))
        goto cleanup;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    qs_jw w;
    qs_jw_init(&w, &r->resp->body);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "phase_id", id);
    rc = qs_api_rows(&w, "layers", st);
    qs_jw_end_obj(&w);
cleanup:
    sqlite3_finalize(st);
    return rc;
}

#define QS_MAP_MAX_SIDE 4096

int qs_api_decision_map(qs_api_req *r)
{
    static const char *const formats[] = {"json", "png", NULL};
    const char *id, *format;
    sqlite3_stmt *st = NULL;
    unsigned char *labels = NULL;
    int rc = qs_api_phase_id(r, "phase_id", &id, 1);
    if (!rc)
        rc = qs_api_enum(r, "format", formats, &format);
    if (rc)
        return rc;
    rc = qs_api_prepare(r->db,
                        "SELECT width, height, data FROM decision_maps WHERE phase_id = ?", &st);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int s = qs_api_step(st);
    if (s == SQLITE_DONE) {
        qs_resp_error(r->resp, 404, "phase_id", "no decision map for phase %s", id);
        goto cleanup;
    }
    if (s != SQLITE_ROW) {
        rc = QS_EINTERNAL;
        goto cleanup;
    }
    int w = sqlite3_column_int(st, 0), h = sqlite3_column_int(st, 1);
    if (w < 1 || h < 1 || w > QS_MAP_MAX_SIDE || h > QS_MAP_MAX_SIDE) {
        rc = qs_err(QS_EFORMAT, "decision map of phase %s has a bad size %d x %d", id, w, h);
        goto cleanup;
    }
    uLongf len = (uLongf)w * (uLongf)h;
    labels = malloc(len);
    if (!labels) {
        rc = qs_err(QS_ENOMEM, "out of memory for a decision map");
        goto cleanup;
    }
    const void *z = sqlite3_column_blob(st, 2);
    uLong zlen = (uLong)sqlite3_column_bytes(st, 2);
    uLongf got = len;
    /* Exactly width x height bytes, or the blob is corrupt. */
    if (!z || uncompress(labels, &got, z, zlen) != Z_OK || got != len) {
        rc = qs_err(QS_EFORMAT, "decision map of phase %s is corrupt (not zlib of %d x %d bytes)", id,
                    w, h);
        goto cleanup;
    }
    if (format && !strcmp(format, "png")) {
        r->resp->ctype = "image/png";
        rc = qs_png_labels(&r->resp->body, labels, w, h);
        goto cleanup;
    }
    int classes = 0;
    for (uLongf i = 0; i < len; i++)
        if (labels[i] >= classes)
            classes = labels[i] + 1;
    qs_jw jw;
    qs_jw_init(&jw, &r->resp->body);
    qs_jw_obj(&jw, NULL);
    qs_jw_str(&jw, "phase_id", id);
    qs_jw_int(&jw, "width", w);
    qs_jw_int(&jw, "height", h);
    qs_jw_int(&jw, "classes", classes);
    qs_jw_str(&jw, "order", "row-major from the top row");
    qs_jw_arr(&jw, "labels");
    /* Written digit by digit: 65,536 labels through printf would dominate. */
    qs_buf *b = &r->resp->body;
    for (uLongf i = 0; i < len; i++) {
        char t[5];
        int k = 0;
        unsigned v = labels[i];
        if (i)
            t[k++] = ',';
        if (v >= 100)
            t[k++] = (char)('0' + v / 100);
        if (v >= 10)
            t[k++] = (char)('0' + v / 10 % 10);
        t[k++] = (char)('0' + v % 10);
        qs_buf_add(b, t, (size_t)k);
    }
    qs_jw_end_arr(&jw);
    qs_jw_end_obj(&jw);
cleanup:
    sqlite3_finalize(st);
    free(labels);
    return rc;
}
