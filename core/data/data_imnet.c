/* ImageNet folder index and the threaded batch loader (data_imnet.h). */
#include "data_imnet.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "err.h"

/* ---------------------------------------------------------------- index */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_jpeg_name(const char *s)
{
    const char *dot = strrchr(s, '.');
    return s[0] != '.' && dot &&
           (!strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".jpg"));
}

/* Sorted names in dir: subdirectories (want_dirs) or JPEG files. */
static int list_dir(char ***out, int *n, const char *dir, int want_dirs)
{
    DIR *d = opendir(dir);
    char **v = NULL, path[4096];
    int cnt = 0, cap = 0, rc = QS_OK;
    *out = NULL;
    *n = 0;
    if (!d)
        return qs_err(QS_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (!want_dirs && !is_jpeg_name(e->d_name))
            continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 256;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                rc = qs_err(QS_ENOMEM, "%s: out of memory listing the directory", dir);
                goto cleanup;
            }
            v = nv;
        }
        if (!(v[cnt] = strdup(e->d_name))) {
            rc = qs_err(QS_ENOMEM, "%s: out of memory listing the directory", dir);
            goto cleanup;
        }
        cnt++;
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
cleanup:
    closedir(d);
    if (rc) {
        for (int i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return QS_OK;
}

static void free_names(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void qs_imnet_index_free(qs_imnet_index *ix)
{
    free_names(ix->wnids, ix->classes);
    free_names(ix->paths, ix->n);
    free(ix->labels);
    memset(ix, 0, sizeof *ix);
}

int qs_imnet_scan(qs_imnet_index *ix, const char *root, const char *split,
                  const qs_imnet_index *classes)
{
    char dir[4096], cdir[8192];
    char **dirs = NULL, **files = NULL;
    int ndirs = 0, nfiles = 0, cap = 0, rc;
    memset(ix, 0, sizeof *ix);
    snprintf(dir, sizeof dir, "%s/%s", root, split);
    if ((rc = list_dir(&dirs, &ndirs, dir, 1)))
        return rc;
    if (ndirs == 0) {
        rc = qs_err(QS_EFORMAT, "%s: no class directories (expected %s/<wnid>/*.JPEG)", dir, dir);
        goto fail;
    }
    if (classes) {
        ix->classes = classes->classes;
        ix->wnids = calloc((size_t)classes->classes, sizeof(char *));
        for (int c = 0; ix->wnids && c < classes->classes; c++)
            if (!(ix->wnids[c] = strdup(classes->wnids[c])))
                break;
        if (!ix->wnids || (classes->classes && !ix->wnids[classes->classes - 1])) {
            rc = qs_err(QS_ENOMEM, "out of memory scanning %s", dir);
            goto fail;
        }
    } else {
        ix->classes = ndirs;
        ix->wnids = dirs;
        dirs = NULL;
    }
    char **cls = classes ? dirs : ix->wnids;
    for (int d = 0; d < ndirs; d++) {
        int label = d;
        if (classes) {
            char **hit = bsearch(&cls[d], ix->wnids, (size_t)ix->classes, sizeof(char *), cmp_str);
            if (!hit) {
                rc = qs_err(QS_EFORMAT, "%s/%s: class \"%s\" is not one of the training set's "
                            "%d classes", dir, cls[d], cls[d], ix->classes);
                goto fail;
            }
            label = (int)(hit - ix->wnids);
        }
        if (snprintf(cdir, sizeof cdir, "%s/%s", dir, cls[d]) >= (int)sizeof cdir) {
            rc = qs_err(QS_EINVAL, "%s/%s: path too long", dir, cls[d]);
            goto fail;
        }
        if ((rc = list_dir(&files, &nfiles, cdir, 0)))
            goto fail;
        if (nfiles == 0) {
            rc = qs_err(QS_EFORMAT, "%s: no JPEG files (*.JPEG) in this class directory", cdir);
            goto fail;
        }
        if (ix->n + nfiles > cap) {
            while (ix->n + nfiles > cap)
                cap = cap ? 2 * cap : 4096;
            char **np = realloc(ix->paths, sizeof(char *) * (size_t)cap);
            int *nl = np ? realloc(ix->labels, sizeof(int) * (size_t)cap) : NULL;
            if (np)
                ix->paths = np;
            if (nl)
                ix->labels = nl;
            if (!np || !nl) {
                rc = qs_err(QS_ENOMEM, "out of memory scanning %s", dir);
                goto fail;
            }
        }
        for (int f = 0; f < nfiles; f++) {
            size_t len = strlen(cdir) + strlen(files[f]) + 2;
            char *p = malloc(len);
            if (!p) {
                rc = qs_err(QS_ENOMEM, "out of memory scanning %s", dir);
                goto fail;
            }
            snprintf(p, len, "%s/%s", cdir, files[f]);
            ix->paths[ix->n] = p;
            ix->labels[ix->n++] = label;
        }
        free_names(files, nfiles);
        files = NULL;
        nfiles = 0;
    }
    free_names(dirs, ndirs);
    return QS_OK;
fail:
    free_names(files, nfiles);
    free_names(dirs, ndirs);
    qs_imnet_index_free(ix);
    return rc;
}

int qs_imnet_index_limit(qs_imnet_index *ix, int limit)
{
    if (limit <= 0 || limit >= ix->n)
        return QS_OK;
    /* i x n / limit is increasing in i, so kept files stay in order and
     * move only down: compact in place, freeing the rest. */
    long n = ix->n;
    int keep = 0;
    for (long j = 0, next = 0; j < n; j++) {
        if (keep < limit && j == next) {
            ix->paths[keep] = ix->paths[j];
            ix->labels[keep] = ix->labels[j];
            keep++;
            next = (long)keep * n / limit;
        } else {
            free(ix->paths[j]);
        }
    }
    ix->n = keep;
    return QS_OK;
}

int qs_imnet_check(const char *root, int *classes)
{
    static const char *const splits[2] = {"train", "val"};
    char dir[4096];
    if (!root || !root[0])
        return qs_err(QS_EINVAL, "imagenet needs its folder ROOT (ROOT/train/<wnid>/*.JPEG, "
                      "ROOT/val/<wnid>/*.JPEG): set --data-dir or dataset.path");
    for (int s = 0; s < 2; s++) {
        char **dirs = NULL;
        int n = 0, rc;
        if (snprintf(dir, sizeof dir, "%s/%s", root, splits[s]) >= (int)sizeof dir)
            return qs_err(QS_EINVAL, "%s: path too long", root);
        if ((rc = list_dir(&dirs, &n, dir, 1)))
            return rc;
        free_names(dirs, n);
        if (n == 0)
            return qs_err(QS_EFORMAT, "%s: no class directories (expected %s/<wnid>/*.JPEG)",
                          dir, dir);
        if (s == 0 && classes)
            *classes = n;
    }
    return QS_OK;
}

/* --------------------------------------------------------------- loader */

typedef struct {
    float *x;
    int *y;
    int seq;            /* batch number in the epoch, -1 when idle */
    int nb, next, done; /* images; next to hand out; finished */
    int err;
    char msg[600];
    unsigned char *bad; /* [batch]: image pos was skipped (not a decodable JPEG) */
    int nbad;
    char badmsg[600];   /* the latest skipped file's error */
} slot;

struct qs_imnet_loader {
    const qs_imnet_index *ix;
    qs_imnet_tf tf;
    int batch, threads, train;
    int *order;
    int nbatches, sched, cur, held; /* next batch to schedule / return; slot the caller holds */
    uint64_t seed;
    slot s[2];
    pthread_t *th;
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int inflight, stop;
    int skipped;        /* files skipped in the batches handed out this epoch */
    char skipmsg[600];
};

/* Reads path into *buf (grown as needed); *len gets the size. */
static int read_file(uint8_t **buf, size_t *cap, size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qs_err(QS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = QS_OK;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        rc = qs_err(QS_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto cleanup;
    }
    size_t n = (size_t)st.st_size;
    if (n > *cap) {
        uint8_t *p = realloc(*buf, n);
        if (!p) {
            rc = qs_err(QS_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
            goto cleanup;
        }
        *buf = p;
        *cap = n;
    }
    if (fread(*buf, 1, n, f) != n)
        rc = qs_err(QS_EIO, "%s: read failed (%zu bytes expected)", path, n);
    *len = n;
cleanup:
    fclose(f);
    return rc;
}

/* Picks the next image to decode (the older batch first); 0 if none. */
static int take_task(qs_imnet_loader *L, slot **sl, int *pos)
{
    slot *best = NULL;
    for (int k = 0; k < 2; k++) {
        slot *s = &L->s[k];
        if (s->seq >= 0 && s->next < s->nb && (!best || s->seq < best->seq))
            best = s;
    }
    if (!best)
        return 0;
    *sl = best;
    *pos = best->next++;
    return 1;
}

static void *worker(void *arg)
{
    qs_imnet_loader *L = arg;
    tjhandle tj = tjInitDecompress();
    qs_imnet_img img = {0};
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    const size_t per = (size_t)3 * L->tf.size * L->tf.size;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        slot *sl;
        int pos;
        while (!L->stop && !take_task(L, &sl, &pos))
            pthread_cond_wait(&L->work, &L->mu);
        if (L->stop)
            break;
        L->inflight++;
        /* Everything the decode reads (order, seed, the slot's batch) stays
         * fixed while a task is in flight (qs_imnet_epoch waits for it). */
        const int at = sl->seq * L->batch + pos, idx = L->order[at];
        const char *path = L->ix->paths[idx];
        pthread_mutex_unlock(&L->mu);
        int rc = tj ? QS_OK : qs_err(QS_ENOMEM, "cannot start a JPEG decoder: %s", tjGetErrorStr2(NULL));
        if (!rc)
            rc = read_file(&buf, &cap, &len, path);
        if (!rc && (rc = qs_imnet_decode(&img, tj, buf, len, path)) == QS_EFORMAT) {
            /* A failed decompression leaves the handle's state behind: every
             * later file then fails with "Bogus Huffman table". */
            tjDestroy(tj);
            tj = tjInitDecompress();
        }
        if (!rc && L->train && L->tf.augment) {
            qs_rng r;
            qs_rng_seed(&r, L->seed + 0x9E3779B97F4A7C15ull * (uint64_t)(at + 1));
            qs_imnet_train_tf(sl->x + (size_t)pos * per, &img, &L->tf, &r);
        } else if (!rc) {
            qs_imnet_eval_tf(sl->x + (size_t)pos * per, &img, &L->tf);
        }
        pthread_mutex_lock(&L->mu);
        sl->y[pos] = L->ix->labels[idx];
        if (rc == QS_EFORMAT) { /* a bad file: skipped, never the epoch's end */
            sl->bad[pos] = 1;
            sl->nbad++;
            snprintf(sl->badmsg, sizeof sl->badmsg, "%s", qs_errmsg());
        } else if (rc && !sl->err) {
            sl->err = rc;
            snprintf(sl->msg, sizeof sl->msg, "%s", qs_errmsg());
        }
        L->inflight--;
        if (++sl->done == sl->nb || L->inflight == 0)
            pthread_cond_broadcast(&L->done);
    }
    pthread_mutex_unlock(&L->mu);
    if (tj)
        tjDestroy(tj);
    qs_imnet_img_free(&img);
    free(buf);
    return NULL;
}

int qs_imnet_batches(const qs_imnet_loader *L) { return L->nbatches; }

/* Hands batch L->sched to slot k (or idles it past the end); locked. */
static void schedule(qs_imnet_loader *L, int k)
{
    slot *s = &L->s[k];
    s->next = s->done = s->err = s->nbad = 0;
    s->msg[0] = 0;
    memset(s->bad, 0, (size_t)L->batch);
    if (L->sched >= L->nbatches) {
        s->seq = -1;
        s->nb = 0;
        return;
    }
    int first = L->sched * L->batch, left = L->ix->n - first;
    s->seq = L->sched++;
    s->nb = left < L->batch ? left : L->batch;
    pthread_cond_broadcast(&L->work);
}

int qs_imnet_loader_open(qs_imnet_loader **out, const qs_imnet_index *ix,
                         const qs_imnet_tf *tf, int batch, int threads, int train)
{
    *out = NULL;
    if (batch < 1 || threads < 1 || threads > 64)
        return qs_err(QS_EINVAL, "imagenet loader: batch %d / threads %d out of range "
                      "(batch >= 1, threads 1..64)", batch, threads);
    if (tf->size < 1 || tf->size > 4096 || tf->resize < tf->size)
        return qs_err(QS_EINVAL, "imagenet loader: crop %d / resize %d invalid (1 <= crop <= "
                      "resize, crop <= 4096)", tf->size, tf->resize);
    if (ix->n < 1 || (train && ix->n < batch))
        return qs_err(QS_EINVAL, "imagenet loader: %d images, fewer than one batch of %d",
                      ix->n, batch);
    qs_imnet_loader *L = calloc(1, sizeof *L);
    if (!L)
        return qs_err(QS_ENOMEM, "out of memory opening the imagenet loader");
    L->ix = ix;
    L->tf = *tf;
    L->batch = batch;
    L->threads = threads;
    L->train = train;
    L->nbatches = train ? ix->n / batch : (ix->n + batch - 1) / batch;
    L->cur = L->nbatches; /* no batch before the first qs_imnet_epoch */
    L->held = -1;
    L->order = malloc(sizeof(int) * (size_t)ix->n);
    size_t per = (size_t)3 * tf->size * tf->size * (size_t)batch;
    for (int k = 0; k < 2; k++) {
        L->s[k].seq = -1;
        L->s[k].x = malloc(per * sizeof(float));
        L->s[k].y = malloc(sizeof(int) * (size_t)batch);
        L->s[k].bad = calloc((size_t)batch, 1);
    }
    L->th = calloc((size_t)threads, sizeof(pthread_t));
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->work, NULL);
    pthread_cond_init(&L->done, NULL);
    if (!L->order || !L->s[0].x || !L->s[1].x || !L->s[0].y || !L->s[1].y || !L->s[0].bad ||
        !L->s[1].bad || !L->th) {
        qs_imnet_loader_close(L);
        return qs_err(QS_ENOMEM, "out of memory: imagenet loader buffers (2 x %zu floats)", per);
    }
    for (int i = 0; i < ix->n; i++)
        L->order[i] = i;
    for (; L->nth < threads; L->nth++)
        if (pthread_create(&L->th[L->nth], NULL, worker, L) != 0) {
            qs_imnet_loader_close(L);
            return qs_err(QS_EINTERNAL, "cannot start imagenet decoding thread %d", L->nth + 1);
        }
    *out = L;
    return QS_OK;
}

int qs_imnet_epoch(qs_imnet_loader *L, qs_rng *rng)
{
    if (L->train && !rng)
        return qs_err(QS_EINVAL, "imagenet loader: a training epoch needs the job's RNG");
    pthread_mutex_lock(&L->mu);
    /* hand out nothing more, and wait for the decodes in flight */
    for (int k = 0; k < 2; k++)
        L->s[k].nb = L->s[k].next;
    while (L->inflight > 0)
        pthread_cond_wait(&L->done, &L->mu);
    if (L->train) {
        for (int i = 0; i < L->ix->n; i++)
            L->order[i] = i;
        qs_rng_shuffle(rng, L->order, L->ix->n);
        L->seed = ((uint64_t)qs_rng_u32(rng) << 32) | qs_rng_u32(rng);
    }
    L->sched = L->cur = 0;
    L->held = -1;
    L->skipped = 0;
    L->skipmsg[0] = 0;
    schedule(L, 0);
    schedule(L, 1);
    pthread_mutex_unlock(&L->mu);
    return QS_OK;
}

/* Moves the images of s that were not skipped to the front; counts the
 * skipped ones. Locked. */
static void drop_bad(qs_imnet_loader *L, slot *s)
{
    const size_t per = (size_t)3 * L->tf.size * L->tf.size;
    int w = 0;
    for (int p = 0; p < s->nb; p++) {
        if (s->bad[p])
            continue;
        if (w != p) {
            memcpy(s->x + (size_t)w * per, s->x + (size_t)p * per, per * sizeof(float));
            s->y[w] = s->y[p];
        }
        w++;
    }
    L->skipped += s->nbad;
    snprintf(L->skipmsg, sizeof L->skipmsg, "%s", s->badmsg);
    s->nb = s->done = w;
    s->nbad = 0;
}

int qs_imnet_next(qs_imnet_loader *L, const float **x, const int **y, int *nb)
{
    int rc = QS_OK;
    *nb = 0;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        if (L->held >= 0) { /* the caller is done with it: decode the batch after next */
            schedule(L, L->held);
            L->held = -1;
        }
        if (L->cur >= L->nbatches)
            break;
        slot *s = &L->s[L->cur % 2];
        while (s->done < s->nb)
            pthread_cond_wait(&L->done, &L->mu);
        if (s->err) {
            rc = qs_err(s->err, "%s", s->msg);
            L->cur = L->nbatches; /* the epoch stops here */
            break;
        }
        if (s->nbad)
            drop_bad(L, s);
        L->held = L->cur % 2;
        L->cur++;
        if (s->nb == 0) /* every file of it skipped: on to the next batch */
            continue;
        *x = s->x;
        *y = s->y;
        *nb = s->nb;
        break;
    }
    pthread_mutex_unlock(&L->mu);
    return rc;
}

int qs_imnet_skipped(const qs_imnet_loader *L, char *msg, size_t cap)
{
    if (msg && cap)
        snprintf(msg, cap, "%s", L->skipmsg);
    return L->skipped;
}

void qs_imnet_loader_close(qs_imnet_loader *L)
{
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->work);
    pthread_mutex_unlock(&L->mu);
    for (int i = 0; i < L->nth; i++)
        pthread_join(L->th[i], NULL);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->work);
    pthread_cond_destroy(&L->done);
    for (int k = 0; k < 2; k++) {
        free(L->s[k].x);
        free(L->s[k].y);
        free(L->s[k].bad);
    }
    free(L->order);
    free(L->th);
    free(L);
}
