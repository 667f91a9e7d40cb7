#include "blas_fix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm.h"

/* Cores OpenBLAS falls back to when it cannot identify a CPU. */
static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington",
                                      "Nehalem", "Atom", "Katmai", "Banias",
                                      "Northwood", "unknown", NULL};

const char *qs_blas_pick_core(const char *detected, int has_avx512, int has_avx2)
{
    int is_generic = 0;
    for (int i = 0; generic[i]; i++)
        if (detected && strcasecmp(detected, generic[i]) == 0)
            is_generic = 1;
    if (!is_generic)
        return NULL;
    if (has_avx512)
        return "SkylakeX";
    if (has_avx2)
        return "Haswell";
    return NULL;
}

void qs_blas_autofix(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("QSWEEP_BLAS_REEXEC"))
        return;
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *detected = qs_blas_core();
    /* QSWEEP_BLAS_FAKE_GENERIC exercises the re-exec on CPUs OpenBLAS does
     * recognise (for the demo in the README; not used by tests). */
    if (getenv("QSWEEP_BLAS_FAKE_GENERIC"))
        detected = "Prescott";
    const char *pick = qs_blas_pick_core(detected, avx512, avx2);
    if (!pick)
        return;
    char note[128];
    snprintf(note, sizeof note, "%s->%s", detected, pick);
    setenv("OPENBLAS_CORETYPE", pick, 1);
    setenv("QSWEEP_BLAS_REEXEC", note, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "qsweep: warning: could not re-execute with OPENBLAS_CORETYPE=%s; "
            "BLAS runs on the slow %s kernels\n", pick, detected);
}

const char *qs_blas_autofix_note(void)
{
    const char *s = getenv("QSWEEP_BLAS_REEXEC");
    return s ? s : "";
}
