/* `qsweep serve`: placeholder until its module lands. */
#include <stdio.h>

#include "cmd.h"

int qs_cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qsweep serve: not implemented yet\n");
    return 2;
}
