/* `qsweep export`: placeholder until its module lands. */
#include <stdio.h>

#include "cmd.h"

int qs_cmd_export(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qsweep export: not implemented yet\n");
    return 2;
}
