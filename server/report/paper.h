/* The published results the project compares against (Boo, Shin, Sung
 * 2020; ../shared/spec/paper-results.json), built into the binary so that
 * `qsweep serve` and `qsweep report` need no file outside the install.
 * Accuracies are CIFAR-10 test accuracy in percent (Table 1: ImageNet
 * top-1). */
#ifndef QS_PAPER_H
#define QS_PAPER_H

/* The four W/A settings of Table 5, in column order. */
enum { QS_PAPER_FLOAT, QS_PAPER_W2AF, QS_PAPER_WFA2, QS_PAPER_W2A2, QS_PAPER_NSETTINGS };

typedef struct {
    const char *key;   /* "float", "w2af", "wfa2", "w2a2" */
    const char *label; /* "float", "W2AF", "WFA2", "W2A2" */
    int wbits, abits;  /* 32 = float */
} qs_paper_setting;

extern const qs_paper_setting qs_paper_settings[QS_PAPER_NSETTINGS];

/* Table 5: 1M-parameter architecture selection. */
typedef struct {
    const char *block; /* basic | preact | depthwise */
    int depth, width;
    double params_m;
    double acc[QS_PAPER_NSETTINGS];
} qs_paper_t5_row;

extern const char qs_paper_table5_dataset[];
extern const qs_paper_t5_row qs_paper_table5[];
extern const int qs_paper_table5_rows;

/* Table 4: ResNet (basic block, width multiplier 1, i.e. width 16) depth
 * with the Lipschitz regularizer and CLR. */
enum { QS_PAPER_T4_FLOAT, QS_PAPER_T4_W2A2, QS_PAPER_T4_W2A2_LIP_CLR, QS_PAPER_T4_NCOLS };

typedef struct {
    int depth;
    double acc[QS_PAPER_T4_NCOLS];
} qs_paper_t4_row;

extern const char qs_paper_table4_dataset[];
extern const char qs_paper_table4_block[];
extern const int qs_paper_table4_width;
extern const char *const qs_paper_table4_columns[QS_PAPER_T4_NCOLS];
extern const char qs_paper_table4_settings[];
extern const qs_paper_t4_row qs_paper_table4[];
extern const int qs_paper_table4_rows;

/* Table 1: ImageNet ResNets of about 22-45M parameters, float vs W2A2
 * (top-1 validation accuracy in percent). */
typedef struct {
    const char *model;  /* "ResNet18" */
    int depth, width;
    int blocks[4];      /* per stage; basic for 18/26/34, bottleneck for 44/50/101 */
    double params_m, gflops;
    double acc_float, acc_w2a2, diff;
} qs_paper_t1_row;

extern const char qs_paper_table1_dataset[];
extern const qs_paper_t1_row qs_paper_table1[];
extern const int qs_paper_table1_rows;

extern const char qs_paper_source[];

#endif
