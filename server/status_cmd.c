/* `qsweep status`: placeholder until its module lands. */
#include <stdio.h>

#include "cmd.h"

int qs_cmd_status(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qsweep status: not implemented yet\n");
    return 2;
}
