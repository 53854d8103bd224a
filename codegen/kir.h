/* kir.h — the kernel IR (KIR): what a fused group lowers to, and what both printers read
 * (codegen/llvm.c: LLVM IR for the CPU JIT; codegen/cuda_c.c: CUDA C for NVRTC).
 *
 * A KIR kernel is one loop nest over an iteration space of `naxes` axes (<= 8):
 *
 *   elementwise kernel (row = 0): the space is the output shape; the kernel's outer range
 *     [begin, end) counts elements of it in row-major order; the last axis is innermost.
 *   row kernel (row = 1): the first naxes - nred axes are "kept" (one outer iteration per
 *     kept index: a row), the last nred axes are reduced. Per row the kernel runs one pass
 *     over the reduced axes per accumulator level (e.g. softmax: max, then sum), then
 *     stores the row values (stores whose index has no reduced axis) and finally runs the
 *     element pass (stores that index the reduced axes).
 *
 * Every extent and stride is a runtime value: `dims` slot k of the calling convention
 * (codegen/cpu.h) holds dims[k] = product of shape[buf][a0 .. a1) of one buffer (or a
 * symbolic Dim), so one compiled kernel serves every binding of the symbols.
 *
 * Buffers are the group's inputs and outputs. An access is a buffer read or written at
 * offset sum_ax idx[ax] * stride[ax], where each stride is 0 (broadcast: NumPy size-1 dims
 * and missing leading dims), 1 (contiguous innermost) or a dims slot, plus constant offset
 * terms (KOff: slices, pads and concats read inside a kernel, which may also guard a load).
 * Expressions form an SSA list (operands precede users, structurally deduplicated): loads,
 * constants, iota, the row length, accumulator values, dims values, counter-based uniform
 * draws (dropout), and primitive ops from KIR_OPS below.
 *
 * Types: f32, f64, i32 — each value keeps the dtype of the IR value it comes from (an f32
 * tensor is computed in f32, f64 in f64). An f32 buffer may be *stored* as bf16 (KBuf.bf16,
 * set by the caller after lowering: the GPU executor's bf16 activations, issue #7): its loads
 * widen to f32 and its stores round to nearest even; the arithmetic stays f32. IR values of
 * dtype bf16/f16 are not lowered here.
 */
#ifndef MAMC_KIR_H
#define MAMC_KIR_H

#include "ir.h"

typedef enum { KT_F32, KT_F64, KT_I32 } KType;
const char *ktype_name(KType t);  /* "f32", "f64", "i32" */
const char *ktype_c(KType t);     /* "float", "double", "int" */
int ktype_size(KType t);

/* ---- primitive ops: one table, read by both printers ------------------------------------
 * Columns: ID, KIR text name, operand count, CUDA C template (%0 %1 %2 operands, %t the
 * result's C type; cg_* helpers are overloaded for float/double/int in the CUDA prelude),
 * libm function for f32 and f64 (NULL: not a libm call; the LLVM printer emits
 * instructions). Semantics are the interpreter's (runtime/interp/ew.c):
 *   max/min    NaN if either operand is NaN, else a > b ? a : b (a < b ? a : b)
 *   eq..le     1 or 0 in the result type; comparisons with NaN are false (ne: true)
 *   select     %0 != 0 ? %1 : %2
 *   cast       f32<->f64 rounding, float->i32 truncation (saturating, NaN -> 0),
 *              i32->float
 *   div (i32)  C truncation computed in 64 bits; a zero divisor gives 0 (the interpreter
 *              reports an error instead)
 */
#define KIR_OPS(X)                                                                         \
  X(NEG, "neg", 1, "(-%0)", NULL, NULL)                                                    \
  X(ABS, "abs", 1, "cg_abs(%0)", "fabsf", "fabs")                                          \
  X(SQRT, "sqrt", 1, "cg_sqrt(%0)", "sqrtf", "sqrt")                                       \
  X(EXP, "exp", 1, "cg_exp(%0)", "expf", "exp")                                            \
  X(LOG, "log", 1, "cg_log(%0)", "logf", "log")                                            \
  X(TANH, "tanh", 1, "cg_tanh(%0)", "tanhf", "tanh")                                       \
  X(SIN, "sin", 1, "cg_sin(%0)", "sinf", "sin")                                            \
  X(COS, "cos", 1, "cg_cos(%0)", "cosf", "cos")                                            \
  X(ADD, "add", 2, "(%0 + %1)", NULL, NULL)                                                \
  X(SUB, "sub", 2, "(%0 - %1)", NULL, NULL)                                                \
  X(MUL, "mul", 2, "(%0 * %1)", NULL, NULL)                                                \
  X(DIV, "div", 2, "cg_div(%0, %1)", NULL, NULL)                                           \
  X(POW, "pow", 2, "cg_pow(%0, %1)", "powf", "pow")                                        \
  X(MAX, "max", 2, "cg_max(%0, %1)", NULL, NULL)                                           \
  X(MIN, "min", 2, "cg_min(%0, %1)", NULL, NULL)                                           \
  X(EQ, "eq", 2, "(%t)(%0 == %1)", NULL, NULL)                                             \
  X(NE, "ne", 2, "(%t)(%0 != %1)", NULL, NULL)                                             \
  X(LT, "lt", 2, "(%t)(%0 < %1)", NULL, NULL)                                              \
  X(LE, "le", 2, "(%t)(%0 <= %1)", NULL, NULL)                                             \
  X(SELECT, "select", 3, "(%0 != 0 ? %1 : %2)", NULL, NULL)                                \
  X(CAST, "cast", 1, "(%t)(%0)", NULL, NULL)

typedef enum {
#define X(ID, NAME, N, C, F32, F64) KOP_##ID,
  KIR_OPS(X)
#undef X
  KOP_COUNT
} KOp;

typedef struct KOpInfo {
  const char *name;
  int nargs;
  const char *c;         /* CUDA C template */
  const char *libm[2];   /* f32, f64 libm names or NULL */
} KOpInfo;
const KOpInfo *kop_info(KOp op);

/* ---- kernel ------------------------------------------------------------------------------ */
enum { KIR_MAX_AXES = IR_MAX_RANK, KST_ZERO = -1, KST_ONE = -2 };

typedef struct KBuf {
  KType t;
  int out;           /* 0 input, 1 output */
  int bf16;          /* an f32 buffer stored as bf16 (2 bytes an element): loads widen, stores
                      * round to nearest even; printed as "bf16" (so part of the kernel's name) */
  int node;          /* the graph value (node index) it holds; not part of the kernel text */
  IrType type;       /* its IR type */
} KBuf;

/* dims slot, by buf:
 *   >= 0         product of shape[buf][a0 .. a1) of buffer buf (1 for an empty range)
 *   KD_SYM       dim_eval(sym, symvals) (an axis that no buffer spans: iota, const)
 *   KD_RNG_KEY   a dropout node's key, rng_key(run seed ^ seed, step) (runtime/rng.h)
 *   KD_TRAINING  1 when the run trains (dropout active), else 0 */
enum { KD_SYM = -1, KD_RNG_KEY = -2, KD_TRAINING = -3 };
typedef struct KDim {
  int buf, a0, a1;
  Dim sym;
  int64_t seed;
} KDim;

/* A constant offset term of an access: c * dims[s[0]] * dims[s[1]] (KST_ONE: a factor 1) —
 * a view's start times its axis's stride (a slice's start, minus a pad's start or a concat
 * operand's position). */
enum { KIR_MAX_OFF = 4 };
typedef struct KOff {
  int64_t c;
  int s[2];
} KOff;

typedef struct KAccess {
  int buf;
  int st[KIR_MAX_AXES]; /* per iteration axis: KST_ZERO, KST_ONE or a dims slot */
  int noff;             /* offset terms added to the index (views inside a kernel) */
  KOff off[KIR_MAX_OFF];
} KAccess;

typedef enum { KE_LOAD, KE_CONST, KE_IOTA, KE_COUNT, KE_ACC, KE_OP, KE_RAND, KE_DIM } KExprKind;

typedef struct KExpr {
  KExprKind kind;
  KType t;
  KOp op;    /* KE_OP */
  int a[3];  /* KE_OP operands; KE_LOAD: a[0] access, a[1] its guard (an i32 expression: where
              * it is 0 the load reads nothing and is 0 — a concat's other operands, a pad's
              * zeros — or -1: none); KE_IOTA: a[0] axis; KE_ACC: a[0] acc;
              * KE_RAND: a[0] rand; KE_DIM: a[0] dims slot (its value in type t) */
  double v;  /* KE_CONST */
  int level; /* set by kir_expr: 0 if it reads no accumulator, else 1 + the highest level read */
} KExpr;

typedef enum { KACC_SUM, KACC_MAX } KAccOp;
typedef struct KAcc {
  KAccOp op;
  KType t;
  int e;      /* the per-element value reduced over the reduced axes */
  int level;  /* pass that computes it: 1 + the highest level of accumulators e reads, or 0 */
} KAcc;

/* A counter-based uniform draw in [0, 1) (f64), the interpreter's dropout stream:
 *   u = (rng_mix(key ^ rng_mix(c)) >> 11) * 2^-53   (runtime/rng.h: rng_uniform(key, c))
 * where c is the flat row-major index of the element in the dropout node's own shape:
 *   c = (...(idx[ax[0]] * d[ext[1]] + idx[ax[1]]) * d[ext[2]] + ...) (idx = 0 where ax < 0) */
typedef struct KRand {
  int key;                 /* dims slot (KD_RNG_KEY) */
  int rank;
  int ax[KIR_MAX_AXES];    /* iteration axis of each of the node's axes, -1: size 1 */
  int ext[KIR_MAX_AXES];   /* dims slot of each of the node's extents */
} KRand;

typedef struct KStore {
  int access, e;
  int row;    /* 1: its index has no reduced axis; stored once per row after the passes */
} KStore;

typedef struct Kir {
  Arena arena;
  int row;              /* 0: elementwise kernel, 1: row kernel (see top) */
  int naxes, nred;
  int ext[KIR_MAX_AXES]; /* dims slot of each axis's extent */
  int npasses;          /* row kernels: number of accumulator levels */
  Vec(KBuf) bufs;       /* inputs first, then outputs */
  Vec(KDim) dims;
  Vec(KAccess) acc;
  Vec(KExpr) e;
  Vec(KAcc) accs;
  Vec(KRand) rands;
  Vec(KStore) stores;
} Kir;

void kir_init(Kir *k);
void kir_free(Kir *k);

/* Builders: each returns the index of an identical existing entry when there is one. */
int kir_dim(Kir *k, KDim d);
int kir_access(Kir *k, const KAccess *a);
int kir_expr(Kir *k, KExpr e);
int kir_const(Kir *k, KType t, double v);
int kir_op(Kir *k, KOp op, KType t, int a, int b, int c); /* unused operands: -1 */
int kir_acc(Kir *k, KAccOp op, int e);                    /* returns the KE_ACC expression */
int kir_rand(Kir *k, const KRand *r);                     /* returns the KE_RAND expression */

/* Analyses, one entry per expression (arrays of k->e.n):
 *   axes[i]  bit ax set when expression i depends on iteration axis ax (loads through
 *            non-zero strides, iota); accumulator values depend on none (they are per row)
 *   level[i] 0 if it reads no accumulator, else 1 + the highest level of those it reads:
 *            it can be computed once pass level[i] - 1 has finished. */
void kir_analyze(const Kir *k, unsigned *axes, int *level);

/* Whether a row kernel reduces columns: one pass of accumulators, stores only per row, and its
 * memory contiguous along the innermost kept axis rather than along the reduced ones (a bias
 * or a norm's gain gradient: sums over the rows of [rows, N]). The CUDA printer gives such
 * kernels a block per 32 consecutive rows of the output instead of a warp per row. */
int kir_columns(const Kir *k);

/* Text form: the golden-file format and (with comments = 0) the compile cache key. Comments
 * name the graph values of buffers ("; %12"); nothing else depends on the graph. */
void kir_print(StrBuf *b, const Kir *k, int comments);
/* "k_" + 16 hex digits of a hash of the canonical text */
void kir_name(const Kir *k, char *buf, size_t len);

#endif
