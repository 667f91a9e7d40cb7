/* Values copied from ../shared/spec/paper-results.json; tests compare the
 * two so a typo here cannot go unnoticed. */
#include "paper.h"

const char qs_paper_source[] =
    "Quantized Neural Networks: Characterization and Holistic Optimization (Boo, Shin, Sung, 2020)";

const qs_paper_setting qs_paper_settings[QS_PAPER_NSETTINGS] = {
    {"float", "float", 32, 32},
    {"w2af", "W2AF", 2, 32},
    {"wfa2", "WFA2", 32, 2},
    {"w2a2", "W2A2", 2, 2},
};

const char qs_paper_table5_dataset[] = "cifar10";

const qs_paper_t5_row qs_paper_table5[] = {
    {"basic", 8, 59, 1.05, {93.26, 92.83, 92.58, 92.32}},
    {"basic", 14, 40, 1.10, {93.62, 93.51, 93.30, 93.11}},
    {"basic", 20, 31, 1.03, {94.14, 93.57, 92.94, 92.65}},
    {"basic", 32, 24, 1.06, {94.24, 93.71, 92.42, 91.84}},
    {"basic", 44, 20, 1.04, {94.27, 93.91, 91.40, 90.69}},
    {"basic", 56, 18, 1.09, {93.58, 93.46, 90.58, 89.77}},
    {"preact", 8, 59, 1.05, {93.10, 92.75, 91.89, 91.03}},
    {"preact", 14, 40, 1.10, {94.14, 93.85, 92.44, 91.81}},
    {"preact", 20, 31, 1.03, {94.25, 93.82, 92.42, 91.81}},
    {"preact", 32, 24, 1.06, {94.07, 93.89, 91.51, 89.03}},
    {"preact", 44, 20, 1.04, {94.31, 94.04, 90.58, 86.26}},
    {"preact", 56, 18, 1.09, {93.96, 93.83, 88.45, 85.45}},
    {"depthwise", 29, 38, 1.11, {93.64, 93.28, 93.38, 92.33}},
    {"depthwise", 38, 32, 1.08, {93.65, 93.47, 92.93, 92.57}},
    {"depthwise", 56, 26, 1.11, {94.27, 94.02, 91.70, 90.61}},
    {"depthwise", 74, 22, 1.08, {93.94, 93.71, 90.50, 89.88}},
    {"depthwise", 110, 18, 1.13, {94.43, 94.39, 88.75, 87.47}},
};
const int qs_paper_table5_rows = sizeof qs_paper_table5 / sizeof qs_paper_table5[0];

const char qs_paper_table4_dataset[] = "cifar10";
const char qs_paper_table4_block[] = "basic";
/* "width multiplier 1": the original CIFAR ResNet's 16 channels. */
const int qs_paper_table4_width = 16;
const char *const qs_paper_table4_columns[QS_PAPER_T4_NCOLS] = {"float", "w2a2",
                                                                "w2a2_lipschitz_clr"};
const char qs_paper_table4_settings[] =
    "Lipschitz term weight 1e-4; CLR fine-tuning 40 epochs between lr 1e-3 and 1e-5, period 8 epochs";

const qs_paper_t4_row qs_paper_table4[] = {
    {20, {92.42, 89.36, 89.68}},
    {32, {92.99, 90.00, 90.60}},
    {56, {93.67, 89.13, 90.24}},
    {110, {94.07, 83.71, 87.77}},
};
const int qs_paper_table4_rows = sizeof qs_paper_table4 / sizeof qs_paper_table4[0];

const char qs_paper_table1_dataset[] = "imagenet";

const qs_paper_t1_row qs_paper_table1[] = {
    {"ResNet34", 34, 64, {3, 4, 6, 3}, 21.8, 3.7, 73.6, 70.5, 3.1},
    {"ResNet18", 18, 90, {2, 2, 2, 2}, 22.8, 3.5, 72.6, 70.2, 2.4},
    {"ResNet26", 26, 70, {3, 3, 3, 3}, 21.4, 3.3, 73.0, 70.6, 2.4},
    {"ResNet50", 50, 64, {3, 4, 6, 3}, 25.6, 4.1, 76.3, 72.7, 3.6},
    {"ResNet44", 44, 72, {3, 4, 5, 2}, 25.0, 4.6, 75.5, 73.4, 2.1},
    {"ResNet101", 101, 64, {3, 4, 23, 3}, 44.6, 7.9, 77.5, 20.1, 57.4},
    {"ResNet50", 50, 85, {3, 4, 6, 3}, 44.2, 7.2, 77.2, 73.7, 3.5},
};
const int qs_paper_table1_rows = sizeof qs_paper_table1 / sizeof qs_paper_table1[0];
