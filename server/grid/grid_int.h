/* Internals shared by grid.c (parsing and validation of the JSON) and
 * grid_expand.c (combinations -> phase DAG). Not part of the grid API. */
#ifndef QS_GRID_INT_H
#define QS_GRID_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "grid.h"
#include "jobspec.h"
#include "optim.h"
#include "quant.h"

/* The keys that `axes`, `cases` and `exclude` may set. */
enum { AX_ARCH, AX_BLOCK, AX_DEPTH, AX_WIDTH, AX_RESIDUAL, AX_WBITS, AX_ABITS,
       AX_REG, AX_CLR, AX_SEED, AX_QUANT, AX_METHOD, AX_ROUND, AX_EQUAL, AX_BLOCKS,
       AX_WMULT, AX_N };
/* In enum order, NULL-terminated (the "allowed:" list of unknown keys). */
extern const char *const qs_gx_axis_names[AX_N + 1];

enum { GX_REG_NONE = 0, GX_REG_LIPSCHITZ = 1 };
/* The method axis: qat (retrain, then clr) or ptq, children of the float phase. */
enum { GX_METHOD_QAT = 0, GX_METHOD_PTQ = 1 };
extern const char *const qs_gx_method_names[];

#define GX_PATH_LEN 128

typedef struct {
    long long i;            /* the value (enum, int, 0/1); width: k, 0 when params */
    double params;          /* width {"params": N}; 0 otherwise */
    int blocks[QS_IMNET_STAGES]; /* blocks: [N1,N2,N3,N4] (grid_model.c) */
    double mult;            /* width_mult */
    char path[GX_PATH_LEN]; /* where it came from, e.g. "axes.depth[2]" */
} gx_val;

typedef struct {
    gx_val *v;
    int n;
} gx_list;

typedef struct {
    gx_val v[AX_N];
    unsigned set;           /* bit k: key k given */
    unsigned bad;           /* bit k: key k given with a problem (reported) */
    char path[GX_PATH_LEN];
} gx_case;

typedef struct {
    gx_list k[AX_N];
    unsigned set;
} gx_exclude;

/* Protocol overrides of one phase (the job spec's settings, worker/
 * jobspec.def); unset ones keep the dataset default. */
typedef qs_js_vals gx_override;

typedef struct {
    qs_data_kind kind;
    char *path;             /* as given; NULL = the worker's default */
    int train_limit, test_limit;
    /* imagenet: the crop side and the class count as given (0 = 224 and,
     * unless the tree was scanned, 1000); the tree's own counts once
     * scanned (qs_gx_imnet_scan), 0 before. */
    int image_size, classes;
    int scan_classes, scan_train;
    gx_override ov[QS_NPHASES]; /* per-dataset phase overrides (win over the top level) */
    char jpath[GX_PATH_LEN];/* "dataset" or "dataset[1]" */
    int bad;                /* this entry has a problem (reported) */
} gx_dataset;

/* Collected problems: "FILE: json.path: message" lines, duplicates dropped. */
typedef struct {
    const char *file;
    char *buf;
    size_t len, cap;
    int n;
    int oom;
} gx_errs;

/* A protocol axis, "retrain.lr": [1e-4, 1e-3] (grid_proto.c). */
#define GX_MAX_PAXES 8
/* Protocol combinations (the product of the protocol axes' lengths) above
 * this are refused: each is a protocol per dataset and phase kind. */
#define GX_MAX_PCOMBOS 1000
/* Values of the "compress" block's energy / params list. */
#define GX_MAX_COMPRESS 32
typedef struct {
    int phase;              /* qs_phase */
    int id;                 /* job spec row */
    double *v;              /* values, as qs_js_vals holds them */
    int n;
    char key[32];           /* as given: "lr" or "lr_max" */
    char path[GX_PATH_LEN]; /* "axes.retrain.lr" */
} gx_paxis;

typedef struct {
    char *name;
    int json_ok;            /* the text was one JSON object */
    gx_list axes[AX_N];
    unsigned axes_set;      /* bit k: axis k has at least one good value */
    unsigned axes_bad;      /* bit k: axis k has a problem (reported) */
    gx_case *cases;
    int ncases;
    gx_exclude *ex;
    int nex;
    gx_dataset *ds;
    int nds;
    int ds_bad;             /* a dataset entry has a problem (reported) */
    gx_override ov[QS_NPHASES]; /* top-level "float", "retrain", "clr", "ptq" */
    gx_paxis pax[GX_MAX_PAXES];
    int npax;
    int pax_bad;            /* a protocol axis has a problem (reported) */
    int first_last_bits;
    int lsq_per_channel, lsq_winit; /* quant.lsq_*: the lsq+ phases' settings */
    int bp_bmin;            /* quant.bp_*: the phases with learned bit widths */
    double bp_init;
    char alpha_init[32];    /* "mse", "p99.9" or a number, as the worker takes it */
    double beta;            /* lipschitz.beta */
    int threads;
    qs_synth_cfg synth;
    /* The "compress" block (grid_compress.c): one compress phase per value
     * per float phase; none when ncompress is 0. */
    int ncompress;
    double compress_v[GX_MAX_COMPRESS];
    int compress_params;    /* the values are parameter fractions, not energies */
    int compress_epochs, compress_first_last;
} gx_spec;

/* The effective protocol of one phase kind on one dataset (dataset
 * defaults, then the grid's top-level override, then the dataset entry's),
 * with each setting's job JSON text formatted once: a 100,000-phase grid
 * formats them once, not once per phase. */
typedef struct {
    qs_train_cfg c;
    unsigned written;              /* bit id: the job JSON carries it */
    char text[QS_JS_N][256];       /* its JSON text (qs_js_format) */
} gx_proto;

/* pc: the protocol combination, a mixed-radix index over s->pax. */
void qs_gx_proto_init(gx_proto *p, const gx_spec *s, const gx_dataset *d, qs_phase ph, int pc);
/* A ptq protocol with one combination's rounding and equalize axis values
 * (which decide what else its job JSON carries: iterations for adaround). */
void qs_gx_proto_ptq(gx_proto *out, const gx_proto *base, int rounding, int equalize);
/* A compress protocol with the block's settings and one of its values. */
void qs_gx_proto_compress(gx_proto *out, const gx_proto *base, const gx_spec *s, double value);
struct cJSON;
/* The top-level "compress" block into s (grid_compress.c). */
void qs_gx_parse_compress(gx_spec *s, const struct cJSON *obj, gx_errs *e);
/* The canonical job JSON of one phase (grid_job.c); lipschitz is the
 * formatted beta or "0". */
int qs_gx_job_config(char *out, size_t cap, const gx_spec *s, const gx_dataset *d,
                     const qs_model_cfg *mc, qs_phase ph, const gx_proto *p, long long seed,
                     const char *lipschitz);

/* Memoised model planning (grid_memo.c): validation, params and cost of a
 * configuration, or the width solved for a parameter budget. */
typedef struct {
    qs_model_cfg c;  /* all ints: no padding, so memcmp is exact */
    double params;   /* > 0: width solving for this budget (c.width = 0) */
} gx_memo_key;

typedef struct {
    gx_memo_key key;
    int used;
    int rc;
    int width;          /* solved width */
    long nparams;
    qs_model_cost cost;
    char *msg;          /* error message when rc != 0 */
} gx_memo_ent;

typedef struct {
    gx_memo_ent *t;
    size_t cap, n;
} gx_memo;

const gx_memo_ent *qs_gx_model_info(gx_memo *m, const qs_model_cfg *c);
/* The width whose count is nearest the budget (c->width ignored). */
const gx_memo_ent *qs_gx_model_solve(gx_memo *m, const qs_model_cfg *c, double params);
void qs_gx_memo_free(gx_memo *m);

void qs_gx_err(gx_errs *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void qs_gx_spec_free(gx_spec *s);
/* grid_scan.c: 0 (the problem in e) when the text is over the size, value
 * or nesting limits of grid.h; run before cJSON builds anything. */
int qs_gx_scan(const char *text, gx_errs *e);
struct cJSON;
/* grid_scan.c: every key and string of the parsed text is free of \u0000
 * and valid UTF-8 (problems, with their paths, in e). */
void qs_gx_check_strings(const struct cJSON *root, const char *text, gx_errs *e);

/* Typed reads of grid values (grid_json.c): each reports its problem at
 * path into e and returns 0, or sets *out and returns 1. */
const char *qs_gx_type_name(const cJSON *it);
void qs_gx_sub_key(char *out, const char *path, const char *key); /* out: GX_PATH_LEN */
void qs_gx_sub_idx(char *out, const char *path, int i);
void qs_gx_list_names(char *out, size_t cap, const char *const *names);
/* Every key of obj in allowed (NULL-terminated), and each once. */
int qs_gx_check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                     gx_errs *e);
int qs_gx_want_object(const cJSON *it, const char *path, gx_errs *e);
int qs_gx_get_int(long long *out, const cJSON *it, const char *path, long long lo,
                  long long hi, gx_errs *e);
int qs_gx_get_num(double *out, const cJSON *it, const char *path, double lo, double hi,
                  int lo_open, gx_errs *e);
int qs_gx_get_enum(int *out, const cJSON *it, const char *path, const char *const *names,
                   gx_errs *e);
int qs_gx_get_bool(int *out, const cJSON *it, const char *path, gx_errs *e);
int qs_gx_bits_value(int *out, const cJSON *it, const char *path, int min, gx_errs *e);
/* A wbits / abits axis value: a bit width, or "learned" (GX_BITS_LEARNED:
 * BitPruning learns that side's widths). */
#define GX_BITS_LEARNED 0

/* Protocol and data settings (grid_proto.c). */
/* The phases with a protocol object (the compress phase's settings are
 * its "compress" block instead). */
#define QS_GX_NPROTO 4
extern const char *const qs_gx_phase_keys[QS_GX_NPROTO]; /* "float", "retrain", "clr", "ptq" */
void qs_gx_override_init(gx_override *o);
void qs_gx_parse_override(gx_override *o, const cJSON *obj, const char *path, qs_phase ph,
                          gx_errs *e);
void qs_gx_parse_dataset(gx_dataset *d, const cJSON *obj, const char *path, gx_errs *e);
void qs_gx_parse_quant(gx_spec *s, const cJSON *obj, gx_errs *e);
void qs_gx_parse_synth(gx_spec *s, const cJSON *obj, gx_errs *e);
/* One "PHASE.KEY" entry of axes; then, once all is parsed, the check that
 * no phase object sets an axis's key too. */
void qs_gx_parse_paxis(gx_spec *s, const cJSON *it, gx_errs *e);
void qs_gx_check_paxes(gx_spec *s, gx_errs *e);
/* Models of a combination (grid_model.c): which archs take which keys, the
 * values of blocks and width_mult, and the model a combination resolves to. */
/* arch takes axis key k (AX_DEPTH, AX_WIDTH, AX_BLOCKS, AX_WMULT, AX_BLOCK,
 * AX_RESIDUAL): the rest of the keys are normalised away for it. */
int qs_gx_arch_takes(long long arch, int k);
/* arch cannot do without key k (depth, width: no default). */
int qs_gx_arch_needs(long long arch, int k);
int qs_gx_arch_fits(long long arch, qs_data_kind kind);
/* The data an arch needs, for the "needs ... data" message. */
const char *qs_gx_arch_data(long long arch);
/* k is AX_BLOCKS or AX_WMULT: reads one value (1) or reports (0). */
int qs_gx_model_value(gx_val *v, int k, const cJSON *it, const char *path, gx_errs *e);
/* it is one value of key k even though it is a JSON list (blocks). */
int qs_gx_one_value(int k, const cJSON *it);
/* Equal values of key k (blocks, width_mult). */
int qs_gx_model_value_eq(int k, const gx_val *a, const gx_val *b);
/* The model of one combination (v[k] NULL: key k not given) into *mc;
 * *skip when a key the arch needs is absent (reported as missing), or
 * *err and *err_path: the problem and where (the caller reports it unless
 * the combination is excluded). Returns QS_OK or QS_ENOMEM. */
int qs_gx_combo_model(qs_model_cfg *mc, gx_memo *mm, const gx_spec *s, const gx_dataset *d,
                      long long arch, const gx_val *const *v, int *skip, const char **err,
                      const char **err_path);
/* The training images a phase on d sees (cost estimate). */
int qs_gx_train_images(const gx_spec *s, const gx_dataset *d);
/* The sweep's check of an imagenet entry before expansion: the tree is
 * listed (train) and checked (val), its class count compared with
 * "classes"; problems at d's path / classes keys. */
void qs_gx_imnet_scan(gx_dataset *d, gx_errs *e);

/* Parses the JSON into s; problems go to e. */
void qs_gx_parse(gx_spec *s, const char *text, gx_errs *e);
/* The phase table (grid_index.c): adds job (already in g->jobs, not yet
 * counted in g->njobs) to the id index; sorts the phases parents first,
 * then the longest expected first, then by id, and rebuilds the index. */
int qs_gx_index_insert(qs_grid *g, int job);
int qs_gx_sort_jobs(qs_grid *g);
/* Builds g->jobs from s; problems go to e. Returns QS_OK or QS_ENOMEM. */
int qs_gx_expand(qs_grid *g, const gx_spec *s, gx_errs *e);

/* The job list (grid_index.c): adds job `job` (g->jobs[job], not yet
 * counted in g->njobs) to the id table; sorts the jobs parents first,
 * then the longest first, and rebuilds the table. */
int qs_gx_index_insert(qs_grid *g, int job);
int qs_gx_sort_jobs(qs_grid *g);

#endif
