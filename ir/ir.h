/* ir.h — the mamc dataflow IR: types with symbolic shapes, the op table, SSA graphs (one per
 * task instance), the module table (the unit of sharing), and the whole program.
 *
 * Everything of a program lives in one Arena (IrProgram.arena): built, printed, parsed and
 * verified here; transformed by passes/; executed by runtime/. Depends on nothing of ours
 * but support.h.
 *
 * Text form (ir/print.c, ir/parse.c; round-trips byte for byte):
 *
 *   module @embed[fr] sync every(1) used_by [translate(en, fr), translate(fr, de)]
 *     param weight : f32[260, 512] init normal(0, 0.02)
 *   task @translate(en, fr) (%src: i32[B, S], %tgt: i32[B, T]) -> (loss: f32[]) {
 *     %0 = param @embed[en].weight                      : f32[260, 512]
 *     %1 = gather %0, %src                              : f32[B, S, 512]
 *     %2 = slice %tgt {axis = 1, end = -1}              : i32[B, T-1]
 *     ...
 *     return loss = %9
 *   }
 */
#ifndef MAMC_IR_H
#define MAMC_IR_H

#include "support.h"

/* ---- dtypes ------------------------------------------------------------------------------ */
typedef enum { DT_F32, DT_BF16, DT_F16, DT_I32, DT_F64, DT_COUNT } DType;
const char *dtype_name(DType t);
int dtype_parse(const char *s, DType *out); /* 1 on success */
int dtype_size(DType t);
int dtype_is_float(DType t);

/* ---- dims and types ----------------------------------------------------------------------
 * A dim is affine in at most one symbol: mul*sym + add (sym < 0: the constant add).
 * Symbols (B, S, T, ...) are named in the program's symbol table and bound at run time, so
 * a new batch shape never forces a recompile. */
enum { IR_MAX_RANK = 8 };

typedef struct Dim {
  int32_t sym;
  int64_t mul, add;
} Dim;

typedef struct IrType {
  DType dt;
  int rank;
  Dim d[IR_MAX_RANK];
} IrType;

Dim dim_const(int64_t c);
Dim dim_sym(int32_t sym);
int dim_is_const(Dim d);
int dim_eq(Dim a, Dim b);
int dim_add(Dim a, int64_t c, Dim *out);              /* a + c; 0 when it overflows int64 */
int dim_sum(Dim a, Dim b, Dim *out);                  /* a + b; 0 when not affine in one symbol, or on overflow */
int dim_sub(Dim a, Dim b, Dim *out);                  /* 0 when not affine in one symbol, or on overflow */
int dim_mul(Dim a, Dim b, Dim *out);                  /* 0 when not affine in one symbol, or on overflow */
int64_t dim_eval(Dim d, const int64_t *symvals);      /* under a binding of every symbol */

int type_eq(const IrType *a, const IrType *b);
int type_is_scalar(const IrType *t);

/* ---- ops -------------------------------------------------------------------------------- */
enum {
  F_SOURCE = 1 << 0,  /* no operands, declared type */
  F_EW = 1 << 1,      /* elementwise (fusible) */
  F_UNARY = 1 << 2,
  F_BINARY = 1 << 3,
  F_CMP = 1 << 4,     /* comparison: f32 0/1 result, no gradient */
  F_REDUCE = 1 << 5,
  F_MATMUL = 1 << 6,
  F_MOVE = 1 << 7,    /* data movement only */
  F_NORM = 1 << 8,    /* softmax / norms: reduction + elementwise, fused as one */
  F_LOSS = 1 << 9,
  F_ATTN = 1 << 10,
  F_COLL = 1 << 11,   /* collective on a process group */
  F_DIFF = 1 << 12,   /* has a gradient rule */
};

typedef enum {
#define OP(ID, NAME, MIN, MAX, FLAGS, RULE, ATTRS) OP_##ID,
#include "ops.def"
  OP_COUNT
} Op;

typedef enum { AK_INT, AK_FLOAT, AK_FLAG, AK_INTS, AK_GROUP, AK_ENUM } AttrKind;

typedef struct AttrSpec {
  const char *name;
  AttrKind kind;
  int nwords;          /* AK_ENUM: allowed words */
  const char **words;
  int has_default;     /* else required */
  int default_unset;   /* "=none": absent unless given (AK_INT only) */
  int64_t def_i;       /* AK_INT, AK_FLAG, AK_ENUM (word index) */
  double def_f;
} AttrSpec;

typedef struct OpInfo {
  const char *name;
  int min_in, max_in; /* max_in < 0: any */
  unsigned flags;
  int nattrs;
  const AttrSpec *attrs;
} OpInfo;

const OpInfo *op_info(Op op);
int op_lookup(const char *name, Op *out); /* 1 on success */
int op_attr_index(Op op, const char *name); /* -1 if the op has no such attribute */

/* One attribute value, stored at the index of its spec. */
typedef struct AttrVal {
  int set;        /* 0: default (or unset for "=none") */
  int64_t i;      /* INT, FLAG, ENUM (word index) */
  double f;       /* FLOAT */
  int n;          /* INTS */
  int64_t *ints;  /* INTS */
  const char *s;  /* GROUP: module or group name without '@' */
} AttrVal;

/* ---- initializers and sync policies ------------------------------------------------------ */
/* DCT: the orthonormal DCT-II matrix over the last two dims [n, m]:
 * P[k, j] = s_k cos(pi k (2j + 1) / (2n)), s_0 = sqrt(1/n), s_k = sqrt(2/n); x @ P is the
 * inverse DCT of x (DiJiang's feature projection C; orthonormal when m = n). */
typedef enum { INIT_ZEROS, INIT_ONES, INIT_CONST, INIT_NORMAL, INIT_UNIFORM, INIT_XAVIER, INIT_DCT } InitKind;
typedef struct IrInit {
  InitKind kind;
  double a, b; /* CONST: a; NORMAL: mean a, std b; UNIFORM: [a, b); XAVIER: gain b (0 means 1) */
} IrInit;

typedef enum { SYNC_EVERY, SYNC_OUTER, SYNC_LOCAL } SyncKind;
typedef struct SyncPolicy {
  SyncKind kind;
  int every;          /* EVERY: all-reduce every n steps; OUTER: inner steps per round */
  double lr, momentum; /* OUTER: outer optimizer (lr 1, momentum 0 = plain averaging) */
  int nesterov;
} SyncPolicy;

/* ---- program ---------------------------------------------------------------------------- */
typedef struct IrParam {
  const char *name;   /* e.g. "l0.attn.wq" */
  IrType type;
  IrInit init;
  int frozen;         /* not trained (e.g. DiJiang's fixed feature weights) */
} IrParam;

typedef struct IrModule {
  const char *name;   /* instance: "embed[fr]", "core", "enc_fam[romance]" */
  const char *block;  /* the block it instantiates, e.g. "nn.Encoder" (informational) */
  SyncPolicy sync;
  Vec(IrParam) params;
  Vec(int) used_by;   /* graph indices, ascending */
  Vec(int) ranks;     /* holders after placement (empty before) */
} IrModule;

typedef struct IrNode {
  Op op;
  IrType type;
  int nin;
  int *in;            /* operand node indices, all < this node's index */
  AttrVal *attr;      /* op_info(op)->nattrs values */
  const char *name;   /* INPUT: input name; PARAM: parameter name */
  int module;         /* PARAM: module index */
  int param;          /* PARAM: parameter index in that module */
  SrcLoc loc;         /* where in the .mam source it came from (not printed) */
  int owner;          /* the module instance whose method made it, -1 for the task body or
                       * unknown (views like `mamc dot` use it; not printed) */
  const char *owner_path; /* the sub-module within it, e.g. "layer.0.self_attn" ("" = top) */
  int group;          /* fusion group (passes/fusion.c; rules: ir/group.h), -1 for none */
} IrNode;

typedef struct IrOutput {
  const char *name;   /* "loss", a named output for decoding, or "grad.MODULE.PARAM" */
  int node;
  int module, param;  /* a gradient output (added by passes/autodiff.c, named
                       * grad.<module>.<param>): the parameter it is the gradient of; else -1 */
} IrOutput;

typedef struct IrGraph {
  const char *task;   /* task template, e.g. "translate" */
  int nargs;
  const char **args;  /* index values, e.g. {"en", "fr"} */
  Vec(IrNode) nodes;  /* topological; INPUT nodes first, in signature order */
  Vec(IrOutput) outputs;
} IrGraph;

/* What a distributed run compiles this program for (passes/comm.h): the process it runs on
 * (rank -1: no placement, one process; the comm pass then changes nothing) among nranks,
 * the gradient bucket size in bytes (0: the default), and whether the global gradient norm
 * is reduced for clipping. A compile option, not part of the IR text. */
typedef struct IrTarget {
  int rank, nranks;
  int64_t bucket_bytes;
  int clip;
} IrTarget;

typedef struct IrProgram {
  Arena *arena;
  Vec(const char *) syms;   /* symbolic dim names */
  Vec(IrModule) modules;
  Vec(IrGraph) graphs;
  IrTarget target;          /* set by the driver before the pipeline; see above */
} IrProgram;

/* ---- building (ir/build.c) --------------------------------------------------------------- */
void ir_program_init(IrProgram *p, Arena *a);
int ir_sym(IrProgram *p, const char *name);   /* index of symbol, added if new */
int ir_module_add(IrProgram *p, const char *name, const char *block); /* -1 if it exists */
int ir_module_find(const IrProgram *p, const char *name);
int ir_param_add(IrProgram *p, int module, const char *name, IrType type, IrInit init);
int ir_param_find(const IrProgram *p, int module, const char *name);
/* "embed[en].weight" -> module and parameter (the longest module name that fits); 1 if found */
int ir_grad_target(const IrProgram *p, const char *ref, int *module, int *param);
int ir_graph_add(IrProgram *p, const char *task, int nargs, const char *const *args);
const char *ir_graph_name(IrProgram *p, const IrGraph *g); /* "translate(en, fr)" */

/* New node with default attributes; its type is set by ir_infer (or by the caller for ops
 * with declared types: sources, reshape, expand). Returns the node index. */
int ir_node_add(IrProgram *p, IrGraph *g, Op op, int nin, const int *in);
int ir_input_add(IrProgram *p, IrGraph *g, const char *name, IrType type);
int ir_param_ref(IrProgram *p, IrGraph *g, int module, int param); /* marks used_by */
void ir_output_add(IrProgram *p, IrGraph *g, const char *name, int node); /* not a gradient */
void ir_set_i(IrNode *n, const char *attr, int64_t v);
void ir_set_f(IrNode *n, const char *attr, double v);
void ir_set_ints(IrProgram *p, IrNode *n, const char *attr, const int64_t *v, int count);
void ir_set_group(IrProgram *p, IrNode *n, const char *attr, const char *group);
int ir_set_enum(IrNode *n, const char *attr, const char *word); /* 0 if not a word of it */
int64_t ir_get_i(const IrNode *n, const char *attr);
double ir_get_f(const IrNode *n, const char *attr);
const AttrVal *ir_get(const IrNode *n, const char *attr);

/* Run the op's shape rule on node `id`. Sets its type (or checks the declared one).
 * On failure writes a message (no location) to err and returns 0. */
int ir_infer(const IrProgram *p, IrGraph *g, int id, char *err, size_t errlen);

/* ---- text form (ir/print.c, ir/parse.c) -------------------------------------------------- */
void ir_print_type(StrBuf *b, const IrProgram *p, const IrType *t);
void ir_print_dim(StrBuf *b, const IrProgram *p, Dim d);
void ir_print_program(StrBuf *b, const IrProgram *p);
void ir_print_graph(StrBuf *b, const IrProgram *p, int graph);
/* Parse IR text into p (initialized, empty). Errors go to d with file:line:col. 1 on success. */
int ir_parse(IrProgram *p, const SrcFile *src, Diag *d);

/* Graphviz view (ir/dot.c): module instances as clusters, tasks as coloured data flow. */
void ir_print_dot(StrBuf *b, const IrProgram *p);

/* ---- verifier (ir/verify.c) --------------------------------------------------------------
 * SSA order, arity, attributes, shapes (shape rules re-run), parameter references against
 * the module table, used_by consistency, a scalar f32 `loss`. Reports to d; 1 if valid. */
int ir_verify(const IrProgram *p, Diag *d);

#endif
