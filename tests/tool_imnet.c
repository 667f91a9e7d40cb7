/* ImageNet-layout test trees and the loader's decode speed (docs/imagenet.md).
 *   tool_imnet gen ROOT CLASSES TRAIN_PER_CLASS VAL_PER_CLASS W H [vary]
 *       writes ROOT/train/nXXXXXXXX/NAME.JPEG and ROOT/val/... (quality 90,
 *       4:2:0 like most camera JPEGs; smooth gradients plus noise, so the
 *       files are about the size of ImageNet's). vary 1: each image's sides
 *       are W and H times a random 0.6..1.4 each (ImageNet's sizes vary),
 *       and its class tints one channel, so a model can learn the classes.
 *   tool_imnet bench ROOT THREADS BATCH BATCHES train|eval
 *       decodes and transforms BATCHES batches of ROOT/train on THREADS
 *       threads; prints images/s, and images per CPU-second (per core).
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -Icore tests/tool_imnet.c \
 *        build/libqscore.a -lturbojpeg -lpthread -lm -o build/tool_imnet */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>

#include "data_imnet.h"
#include "err.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int gen(const char *root, int classes, int ntrain, int nval, int w0, int h0, int vary)
{
    tjhandle tj = tjInitCompress();
    uint8_t *p = malloc((size_t)w0 * h0 * 3 * 2);
    char path[4096];
    qs_rng r;
    size_t bytes = 0, files = 0;
    if (!tj || !p)
        return 1;
    qs_rng_seed(&r, 1);
    mkdir(root, 0755);
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", root, s ? "val" : "train");
        mkdir(path, 0755);
        for (int c = 0; c < classes; c++) {
            snprintf(path, sizeof path, "%s/%s/n%08d", root, s ? "val" : "train", c);
            mkdir(path, 0755);
            for (int k = 0; k < (s ? nval : ntrain); k++) {
                int w = w0, h = h0;
                if (vary) {
                    w = (int)(w0 * (0.6f + 0.8f * qs_rng_uniform(&r)));
                    h = (int)(h0 * (0.6f + 0.8f * qs_rng_uniform(&r)));
                    w = w < 8 ? 8 : w;
                    h = h < 8 ? 8 : h;
                }
                float fx = qs_rng_uniform(&r) * 0.05f, fy = qs_rng_uniform(&r) * 0.05f;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        for (int ch = 0; ch < 3; ch++) {
                            float v = 128 + 80 * sinf(fx * x * (ch + 1) + fy * y) +
                                      70 * (qs_rng_uniform(&r) - 0.5f);
                            if (vary && ch == c % 3)
                                v += c % 2 ? 60 : -60;
                            p[3 * ((size_t)y * w + x) + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                        }
                unsigned char *jpg = NULL;
                unsigned long len = 0;
                if (tjCompress2(tj, p, w, 0, h, TJPF_RGB, &jpg, &len, TJSAMP_420, 90, 0)) {
                    fprintf(stderr, "compress: %s\n", tjGetErrorStr2(tj));
                    return 1;
                }
                snprintf(path, sizeof path, "%s/%s/n%08d/n%08d_%d.JPEG", root, s ? "val" : "train",
                         c, c, k);
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(jpg, 1, len, f) != len) {
                    fprintf(stderr, "%s: write failed\n", path);
                    return 1;
                }
                fclose(f);
                tjFree(jpg);
                bytes += len;
                files++;
            }
        }
    }
    printf("{\"files\":%zu,\"mean_bytes\":%.0f,\"w\":%d,\"h\":%d}\n", files,
           files ? (double)bytes / files : 0.0, w0, h0);
    tjDestroy(tj);
    free(p);
    return 0;
}

static int bench(const char *root, int threads, int batch, int batches, int train)
{
    qs_imnet_index ix;
    qs_imnet_tf tf;
    qs_imnet_loader *L;
    qs_rng r;
    qs_imnet_tf_default(&tf);
    if (qs_imnet_scan(&ix, root, "train", NULL) ||
        qs_imnet_loader_open(&L, &ix, &tf, batch, threads, train)) {
        fprintf(stderr, "tool_imnet: %s\n", qs_errmsg());
        return 1;
    }
    qs_rng_seed(&r, 1);
    int done = 0, nb = 0;
    const float *x;
    const int *y;
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    while (done < batches) {
        qs_imnet_epoch(L, &r);
        for (;;) {
            if (qs_imnet_next(L, &x, &y, &nb)) {
                fprintf(stderr, "tool_imnet: %s\n", qs_errmsg());
                return 1;
            }
            if (nb == 0 || ++done == batches)
                break;
        }
    }
    double wall = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double n = (double)done * batch;
    printf("{\"images\":%.0f,\"threads\":%d,\"mode\":\"%s\",\"img_per_s\":%.1f,"
           "\"img_per_cpu_s\":%.1f,\"wall_s\":%.2f,\"cpu_s\":%.2f}\n",
           n, threads, train ? "train" : "eval", n / wall, n / cpu, wall, cpu);
    qs_imnet_loader_close(L);
    qs_imnet_index_free(&ix);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 8 || argc == 9) && !strcmp(argv[1], "gen"))
        return gen(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
                   argc == 9 && atoi(argv[8]));
    if (argc == 7 && !strcmp(argv[1], "bench"))
        return bench(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), !strcmp(argv[6], "train"));
    fprintf(stderr, "usage: tool_imnet gen ROOT CLASSES TRAIN_PER_CLASS VAL_PER_CLASS W H [vary]\n"
                    "       tool_imnet bench ROOT THREADS BATCH BATCHES train|eval\n");
    return 2;
}
