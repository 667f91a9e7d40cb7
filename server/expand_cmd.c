/* `qsweep expand`: placeholder until its module lands. */
#include <stdio.h>

#include "cmd.h"

int qs_cmd_expand(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qsweep expand: not implemented yet\n");
    return 2;
}
