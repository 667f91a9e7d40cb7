/* `qsweep report`: placeholder until its module lands. */
#include <stdio.h>

#include "cmd.h"

int qs_cmd_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qsweep report: not implemented yet\n");
    return 2;
}
