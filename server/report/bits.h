/* Bit settings in words: the one spelling of the tables (float, W2AF,
 * WFA2, W2A2; F = 32-bit float), its parser, and the one column order of
 * every report (docs/cli.md: "Bit settings").
 *
 * Order: float first, then weight-only (WxAF), activation-only (WFAx) and
 * both (WxAy) quantized, as Table 5's columns run; within each group more
 * bits first; within one setting the plain retrain, then + Lipschitz
 * ("+lip"), + CLR ("+clr"), both ("+lip+clr"). */
#ifndef QS_BITS_H
#define QS_BITS_H

#include <stddef.h>

/* "float", "W2AF", "WFA2", "W2A2" (wbits/abits 32 = float). */
void qs_bits_label(char *out, size_t cap, int wbits, int abits);
/* The setting of a phase: its bits label, "+lip" when regularized, "+clr"
 * for the CLR phase (float phases: "float"). */
void qs_setting_label(char *out, size_t cap, int wbits, int abits, int lip, int clr);
/* The quantizer of a runs row as the reports name its columns: the runs
 * view's quantizer, and for a ptq phase its variant ("ptq", "ptq+cle",
 * "ptq+adaround", "ptq+adaround+cle"). SQL over the runs view's columns. */
#define QS_QUANT_COL_SQL                                                               \
    "(CASE WHEN phase = 'ptq' THEN 'ptq' || CASE WHEN rounding = 'adaround' THEN "    \
    "'+adaround' ELSE '' END || CASE WHEN equalize THEN '+cle' ELSE '' END ELSE "      \
    "quantizer END)"
/* Appends "[quant]" to a setting label measured with a quantizer other than
 * the paper's ("W2A2[lsq+]"); nothing for NULL, "none" (float) and
 * "hwang-pact". Returns whether it appended. */
int qs_quant_suffix(char *lab, size_t cap, const char *quant);
/* Sort key of a setting in the order above (smaller first). */
long qs_setting_rank(int wbits, int abits, int lip, int clr);

/* "float", "W2A2", "w2a2", "W2AF", "wfa2", ... (any case; F = float) to
 * bits; QS_EINVAL naming `flag` and the spellings otherwise. */
int qs_bits_parse(int *wbits, int *abits, const char *flag, const char *s);

#endif
