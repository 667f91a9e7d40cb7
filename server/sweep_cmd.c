/* `qsweep sweep`: placeholder until its module lands. */
#include <stdio.h>

#include "cmd.h"

int qs_cmd_sweep(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qsweep sweep: not implemented yet\n");
    return 2;
}
