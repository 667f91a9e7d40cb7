/* libFuzzer target: a checkpoint file's bytes through every reader of one:
 * the container (qs_ckpt_decode), a resume into a float and a quantized
 * trainer, a retrain's parent load, and the export loader. The trainers are
 * built once, for fcdnn-8-3 on synthetic data (no files), the model of the
 * seed checkpoints `make fuzz` trains. Nothing is written. docs/fuzzing.md.
 *
 * Almost every mutation breaks the CRC, and a reader stops there; so each
 * input is read twice: as given, and with its last 4 bytes replaced by the
 * CRC of the rest, which is what a forged file carries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ckpt.h"
#include "data.h"
#include "model.h"
#include "train.h"

static qs_dataset train_set, test_set;
static qs_trainer float_t, quant_t;

static qs_model_cfg fcdnn(int bits)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_FCDNN;
    c.depth = 3;
    c.width = 8;
    c.wbits = c.abits = bits;
    c.first_last_bits = 8;
    qs_data_shape(QS_DATA_SYNTHETIC, &c.in_c, &c.in_h, &c.in_w, &c.classes);
    return c;
}

static int setup(void)
{
    qs_synth_cfg s;
    qs_train_cfg fc, qc;
    qs_synth_cfg_default(&s);
    qs_train_cfg_default(&fc, QS_DATA_SYNTHETIC, QS_PHASE_FLOAT);
    qs_train_cfg_default(&qc, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN);
    qs_model_cfg fm = fcdnn(32), qm = fcdnn(2);
    fc.batch = qc.batch = 64;
    return qs_data_load(&train_set, &test_set, QS_DATA_SYNTHETIC, NULL, 256, 64, &s) ||
           qs_trainer_init(&float_t, &fm, &fc, &train_set, &test_set) ||
           qs_trainer_init(&quant_t, &qm, &qc, &train_set, &test_set);
}

/* The readers take ownership of what they are given. */
static uint8_t *copy(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size + 1);
    if (b)
        memcpy(b, data, size);
    return b;
}

static void read_all(const uint8_t *data, size_t size)
{
    uint8_t *b;
    qs_ckpt ck;
    if ((b = copy(data, size)) && qs_ckpt_decode(&ck, b, size, "fuzz.qsc") == 0)
        qs_ckpt_free(&ck);
    if ((b = copy(data, size)))
        qs_trainer_resume_bytes(&float_t, b, size, "fuzz.qsc");
    if ((b = copy(data, size)))
        qs_trainer_resume_bytes(&quant_t, b, size, "fuzz.qsc");
    if ((b = copy(data, size)))
        qs_trainer_load_parent_bytes(&quant_t, b, size, "fuzz.qsc");
    qs_model m;
    qs_ckpt_info info;
    if ((b = copy(data, size)) && qs_model_load_ckpt_bytes(&m, &info, b, size, "fuzz.qsc", 1) == 0)
        qs_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -1;
    if (ready < 0)
        ready = setup() == 0;
    if (!ready)
        abort();
    read_all(data, size);
    if (size < 16)
        return 0;
    uint8_t *fixed = copy(data, size);
    if (!fixed)
        return 0;
    uLong crc = crc32(0L, fixed, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    read_all(fixed, size);
    free(fixed);
    return 0;
}
