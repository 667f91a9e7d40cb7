/* qsweep: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "blas_fix.h"
#include "cmd.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qsweep COMMAND [options]\n"
            "  train    train one phase (float, retrain or clr), no MPI\n"
            "  bench    training speed of a model (img/s, GFLOP/s, BLAS core)\n"
            "  info     parameter count, cost and layers of a model\n"
            "run 'qsweep COMMAND --help' for a command's options\n");
}

int main(int argc, char **argv)
{
    qs_blas_autofix(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "train") == 0)
        return qs_cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return qs_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0)
        return qs_cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "qsweep: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
