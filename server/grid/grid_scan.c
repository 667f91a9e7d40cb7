/* Checks of a grid's raw text, before and after cJSON reads it.
 *
 * Before: cJSON builds a node of about 64 bytes per value and grid.c a
 * value record of about 150 per axis entry, so a 50 MB list of seeds took
 * 5.9 GB before the combination limit refused it. The scan below walks the
 * text once without allocating and refuses a grid over the size, value or
 * nesting limits (grid.h) before any tree exists.
 *
 * After: cJSON decodes "\u0000" into a NUL that ends its C string, so
 * "rel\u0000base" would silently become "rel" (another sweep's name), and it
 * copies raw bytes without checking UTF-8. Walking the text's strings in
 * step with the tree finds both and names the JSON path. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "grid_int.h"

static void line_col(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

int qs_gx_scan(const char *text, gx_errs *e)
{
    int depth = 0, in_str = 0, line, col;
    size_t values = 1, len = strlen(text);
    if (len > QS_GRID_MAX_BYTES) {
        qs_gx_err(e, NULL, "%zu bytes is more than the %d a grid may have", len,
                  QS_GRID_MAX_BYTES);
        return 0;
    }
    for (const char *p = text; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
            continue;
        }
        /* Every value but the root follows a '[', '{' or ',' (and a ':'
         * only after a key counted by its ',' or '{'). */
        if (*p == '"') {
            in_str = 1;
        } else if (*p == '[' || *p == '{') {
            values++;
            if (++depth > QS_GRID_MAX_DEPTH) {
                line_col(text, p, &line, &col);
                qs_gx_err(e, NULL, "nested deeper than %d lists/objects at line %d, column "
                          "%d (a grid needs 5)", QS_GRID_MAX_DEPTH, line, col);
                return 0;
            }
        } else if (*p == ']' || *p == '}') {
            depth -= depth > 0;
        } else if (*p == ',') {
            values++;
        }
        if (values > QS_GRID_MAX_VALUES) {
            line_col(text, p, &line, &col);
            qs_gx_err(e, NULL, "more than %d JSON values (at line %d, column %d): list the "
                      "values of each axis once and let the axes cross", QS_GRID_MAX_VALUES,
                      line, col);
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------ strings */

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||
        (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return n;
}

typedef struct {
    const char *text; /* where the next string token is looked for */
    gx_errs *e;
} walker;

/* The next string token of the text (keys and values in document order,
 * which is the order cJSON keeps them in); *has_nul: it holds \u0000. */
static int next_string(walker *w, int *has_nul)
{
    const char *p = strchr(w->text, '"');
    *has_nul = 0;
    if (!p)
        return 0;
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\') {
            if (strncmp(p + 1, "u0000", 5) == 0)
                *has_nul = 1;
            if (p[1])
                p++;
        }
    w->text = *p ? p + 1 : p;
    return 1;
}

static void check_one(walker *w, const char *s, const char *path, const char *what)
{
    int nul;
    if (!next_string(w, &nul))
        return;
    if (nul) {
        qs_gx_err(w->e, path, "the %s holds \\u0000 (NUL), which is not allowed", what);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (!n) {
            qs_gx_err(w->e, path, "the %s is not valid UTF-8 (byte %ld of it is 0x%02X)", what,
                      (long)(p - (const unsigned char *)s) + 1, *p);
            return;
        }
        p += n;
    }
}

static void walk(walker *w, const cJSON *it, const char *path)
{
    char p[GX_PATH_LEN];
    int i = 0;
    for (const cJSON *c = it->child; c; c = c->next, i++) {
        if (cJSON_IsObject(it)) {
            snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", c->string);
            check_one(w, c->string, p, "key");
        } else {
            snprintf(p, sizeof p, "%s[%d]", path, i);
        }
        if (cJSON_IsString(c))
            check_one(w, c->valuestring, p, "string");
        else if (cJSON_IsArray(c) || cJSON_IsObject(c))
            walk(w, c, p);
    }
}

void qs_gx_check_strings(const cJSON *root, const char *text, gx_errs *e)
{
    walker w = {text, e};
    if (cJSON_IsString(root))
        check_one(&w, root->valuestring, "", "string");
    else
        walk(&w, root, "");
}
