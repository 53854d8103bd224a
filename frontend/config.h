/* config.h — the run configuration (run.yaml): which index values, vocabularies and tasks
 * exist, which processes train which task, how each module is synchronised, and the
 * training hyper-parameters. docs/config.md describes the format with a full example.
 *
 * Loading is two steps: libyaml's parser builds a small node tree that keeps line:col for
 * every node (config_yaml.c), then a schema validates it into the typed RunConfig below
 * (config.c). Every unknown key, wrong type, out-of-range value, duplicate key and
 * inconsistent reference is an error at its YAML location; validation goes on to report
 * several. Data files are not opened at load time: config_check_files() does that.
 *
 * Everything lives in the caller's Arena. Every struct keeps the SrcLoc of what it was read
 * from, so later stages (the elaborator checking the config against the .mam model) can
 * report errors at the YAML line: cfg_loc() finds the location of any key by its path.
 */
#ifndef MAMC_CONFIG_H
#define MAMC_CONFIG_H

#include "ir.h"
#include "support.h"

/* A string as written in the YAML, with where. `s` is NULL when not given. */
typedef struct CfgName {
  const char *s;
  SrcLoc loc;
} CfgName;

/* ---- index: `index NAME from config` ------------------------------------------------------ */
typedef struct CfgGroup {
  CfgName name;             /* the group, e.g. "romance" */
  Vec(CfgName) members;     /* e.g. fr, es */
} CfgGroup;

typedef struct CfgIndex {
  CfgName name;             /* loc: the key */
  int grouped;              /* written as {group: [members]} (or MAMMOTH's {member: group}) */
  Vec(CfgName) values;      /* plain: the values; grouped: the group names, in order */
  Vec(CfgGroup) groups;     /* grouped only: groups.v[i].name is values.v[i] */
} CfgIndex;

/* ---- vocab: `vocab(l)` --------------------------------------------------------------------- */
typedef enum { CFG_VOCAB_BYTE, CFG_VOCAB_BPE } CfgVocabKind;
enum { CFG_BYTE_VOCAB_SIZE = 260 }; /* 4 specials (pad, bos, eos, unk) + 256 bytes */

typedef struct CfgVocab {
  CfgName name;             /* loc: the key */
  SrcLoc loc;               /* the value */
  CfgVocabKind kind;
  int size;                 /* byte: 260 */
  CfgName path;             /* bpe: the merges file; byte: s == NULL */
} CfgVocab;

/* ---- tasks ---------------------------------------------------------------------------------- */
typedef struct CfgTask {
  CfgName name;             /* default "<template>-<args joined by '-'>"; loc: the entry then */
  SrcLoc loc;               /* the task entry (list item or map key) */
  CfgName tmpl;             /* "translate"; loc: inside the `task:` scalar */
  Vec(CfgName) args;        /* "en", "fr"; each loc at its column inside the scalar */
  /* Training data: `path` (TSV, one column per input) or `path_src` + `path_tgt`. */
  CfgName path, path_src, path_tgt;
  CfgName valid, valid_src, valid_tgt; /* optional; same two forms */
  Vec(CfgName) vocabs;      /* tokenizer per input column; default: the task arguments */
  Vec(int) columns;         /* corpus column feeding each model input; empty: 0, 1, ... */
  SrcLoc columns_loc;
  int vocabs_defaulted;     /* 1 when `vocabs:` was not given */
  double weight;            /* > 0; default 1 */
  SrcLoc weight_loc;
  long long introduce_at_step; /* default 0 */
  SrcLoc introduce_loc;
  Vec(int) ranks;           /* processes that train it; empty: placed automatically */
  SrcLoc ranks_loc;
  int stride, offset;       /* read every stride-th line starting at offset; default 1, 0 */
  SrcLoc stride_loc;
} CfgTask;

/* ---- sampling, sync, DEPT ------------------------------------------------------------------ */
typedef enum { CFG_SAMPLE_WEIGHTED, CFG_SAMPLE_ROUNDROBIN } CfgSampleStrategy;
typedef struct CfgSampling {
  double temperature;       /* p(task) ∝ weight^(1/temperature); default 1 */
  long long seed;           /* default 1 */
  CfgSampleStrategy strategy;
  SrcLoc loc;
} CfgSampling;

/* One `sync:` entry. Patterns match module instance names ("core", "embed[fr]"); `*` matches
 * any run of characters; whitespace is ignored. `default` applies when nothing else matches. */
typedef struct CfgSyncRule {
  CfgName pattern;          /* as written (loc: the key) */
  const char *norm;         /* whitespace removed */
  int is_default;
  SyncPolicy policy;
  SrcLoc loc;               /* the policy value */
} CfgSyncRule;

typedef enum { CFG_DEPT_NONE, CFG_DEPT_GLOB, CFG_DEPT_TRIM, CFG_DEPT_SPEC } CfgDeptVariant;
typedef struct CfgDept {
  CfgDeptVariant variant;
  int reset_moments;        /* moments: reset — AdamW moments restart after each outer round
                             * (default keep: each source keeps its own); docs/dept.md */
  int sources_per_round;    /* sources_per_round: K — Algorithm 1's random subset S_r: in each
                             * round only K of the sources (tasks) train; 0 = all (default) */
  SrcLoc loc, sources_loc;  /* the dept: value; the sources_per_round value */
} CfgDept;

/* ---- train, checkpoint --------------------------------------------------------------------- */
typedef enum { CFG_SCHED_INVERSE_SQRT, CFG_SCHED_COSINE, CFG_SCHED_LINEAR, CFG_SCHED_CONSTANT } CfgSchedKind;
typedef enum { CFG_OPT_ADAMW, CFG_OPT_ADAM, CFG_OPT_SGD } CfgOptKind;
typedef enum { CFG_DEV_CPU, CFG_DEV_CUDA } CfgDeviceKind;
typedef enum { CFG_NONFINITE_STOP, CFG_NONFINITE_SKIP } CfgNonfinite;
typedef enum { CFG_STOP_NONE, CFG_STOP_LOSS, CFG_STOP_BLEU, CFG_STOP_CHRF } CfgStopMetric;

typedef struct CfgTrain {
  long long steps;          /* default 1000 */
  long long batch_tokens;   /* default 4096; >= max_len */
  int max_len;              /* default 128 */
  double lr;                /* default 5e-4 */
  struct {
    CfgSchedKind kind;      /* default inverse_sqrt */
    long long warmup;       /* default min(4000, steps/10), at least 1 for inverse_sqrt */
    double min_lr;          /* default 0 */
  } schedule;
  struct {
    CfgOptKind kind;        /* default adamw */
    double beta1, beta2, eps, weight_decay; /* adam(w): 0.9, 0.98, 1e-9; wd 0.01 (adamw) */
    double momentum;        /* sgd: default 0 */
  } optimizer;
  double clip;              /* max gradient norm; 0 = off; default 1 */
  double label_smoothing;   /* default 0: the smoothing of each cross_entropy that gives none */
  int label_smoothing_given; /* the configuration states it (a model's own smoothing: must agree) */
  SrcLoc label_smoothing_loc;
  double dropout;           /* only 0: dropout is the model's (nn blocks' p:, dropout(x, p:)) */
  DType precision;          /* DT_F32 (default), DT_BF16 or DT_F16 (mixed precision) */
  long long seed;           /* default 1 */
  CfgDeviceKind device;     /* default cpu */
  int device_index;         /* "cuda:N": N; "cuda": -1 (one per local rank) */
  long long valid_every;    /* 0 = never; default 100 */
  long long valid_batches;  /* batches per task in a validation; default 20 */
  long long valid_bleu;     /* sentences per task greedy-decoded for BLEU/chrF at each validation; 0 = off */
  struct {                  /* early_stop: {metric, patience}; absent: metric none */
    CfgStopMetric metric;   /* the mean over tasks that decides the best checkpoint (DIR/best) */
    long long patience;     /* validations without improvement before stopping; 0 = never stop */
    SrcLoc loc;
  } early_stop;
  long long log_every;      /* 0 = never; default 10 */
  int accum;                /* gradient accumulation steps; default 1 */
  double bucket_mb;         /* gradient all-reduce bucket size in MiB (passes/comm.h); default 10 */
  CfgNonfinite nonfinite;   /* a NaN/Inf loss or gradient: stop (default) or skip the step */
  int nonfinite_debug;      /* name the first op of every non-finite step; default false */
  SrcLoc loc;
} CfgTrain;

typedef struct CfgCheckpoint {
  const char *dir;          /* default "ckpt" */
  long long every;          /* steps; 0 = only at the end; default 500 */
  int keep;                 /* how many to keep; 0 = all; default 3 */
  SrcLoc loc;
} CfgCheckpoint;

/* ---- the whole configuration ---------------------------------------------------------------- */
struct YNode;

typedef struct RunConfig {
  const SrcFile *file;      /* the YAML text (diagnostics point into it) */
  const char *base_dir;     /* relative paths are relative to this: the config file's folder */
  Vec(CfgIndex) indexes;
  Vec(CfgVocab) vocabs;
  Vec(CfgTask) tasks;
  CfgSampling sampling;
  int processes;            /* world size; default 1 */
  SrcLoc processes_loc;
  Vec(CfgSyncRule) sync;    /* in file order; `default` is tried last */
  CfgDept dept;
  CfgTrain train;
  CfgCheckpoint checkpoint;
  Vec(CfgName) freeze;      /* module patterns ('*' wildcard) whose parameters are not trained */
  const struct YNode *root; /* the YAML tree, for cfg_loc */
} RunConfig;

/* Load and validate. On any error: diagnostics in d, NULL returned. */
RunConfig *config_load(Arena *a, Diag *d, const char *path);
RunConfig *config_load_string(Arena *a, Diag *d, const char *name, const char *text);

/* Lookups (NULL / -1 when absent). */
const CfgIndex *cfg_index_find(const RunConfig *cfg, const char *name);
int cfg_index_value(const CfgIndex *ix, const char *value);  /* position in values, or -1 */
const char *cfg_index_group_of(const CfgIndex *ix, const char *member); /* grouped only */
const CfgVocab *cfg_vocab_find(const RunConfig *cfg, const char *name);
const CfgTask *cfg_task_find(const RunConfig *cfg, const char *name);

/* The sync policy of a module instance ("embed[fr]"): the first rule whose pattern matches,
 * else the `default` rule, else every(1). Returns the rule used, NULL for the built-in. */
const CfgSyncRule *cfg_sync_for(const RunConfig *cfg, const char *module, SyncPolicy *out);
/* Glob match: `*` matches any run of characters; whitespace in either is ignored. */
int cfg_pattern_match(const char *pattern, const char *name);

/* Where a key was written: "train.lr", "sync.core", "vocab.fr.size", "tasks[2].weight"
 * ([N] picks the Nth list item or map entry). When the key is absent, the location of the
 * deepest enclosing key that exists (line 0 when nothing does). */
SrcLoc cfg_loc(const RunConfig *cfg, const char *path);

/* A path from the config as the runtime should open it (relative to base_dir). */
char *config_resolve_path(Arena *a, const RunConfig *cfg, const char *path);

/* Report every data or vocabulary file that cannot be opened, at the YAML line of its key.
 * Returns the number of such files. */
int config_check_files(const RunConfig *cfg, Diag *d);

/* A normalised dump with every default filled in; it is valid YAML and loads to the same
 * configuration (tests compare it with golden text). */
void config_dump(StrBuf *b, const RunConfig *cfg);

/* Names of the enumerations, as written in YAML. */
const char *cfg_vocab_kind_name(CfgVocabKind k);
const char *cfg_sched_name(CfgSchedKind k);
const char *cfg_stop_metric_name(CfgStopMetric k); /* "none", "loss", "bleu", "chrf" */
const char *cfg_opt_name(CfgOptKind k);
const char *cfg_dept_name(CfgDeptVariant v);
/* The length of the run's outer rounds: the `every` of its sync rules that make rounds
 * (outer, or every: n > 1) — one length when dept.sources_per_round is set (checked) — or 0
 * when no rule makes rounds. */
int cfg_round_every(const RunConfig *cfg);
const char *cfg_strategy_name(CfgSampleStrategy s);

#endif
