/* The dashboard's static files: web/ (index.html, app.js, style.css) and
 * Chart.js from Debian's libjs-chart.js. Only flat file names are served,
 * and only regular files that resolve inside the web directory (a symlink
 * there that points out of it is 404), so no request can read a file
 * outside it. */
#ifndef QS_HTTP_STATIC_H
#define QS_HTTP_STATIC_H

#include <stddef.h>

#include "api.h"

/* The web directory, resolved (realpath): flag if given, else
 * <binary dir>/../web, else /usr/share/qsweep/web; the first that holds
 * index.html. */
int qs_static_find_webdir(const char *flag, char *out, size_t n);
/* Chart.js from Debian's package (UMD build), or "" when not installed. */
void qs_static_find_chartjs(char *out, size_t n);

/* Fills resp for the decoded URL path (a leading "/"): 200 with the file,
 * 404 JSON when there is no such file. */
int qs_static_get(const char *webdir, const char *chartjs, const char *path, qs_resp *resp);

#endif
