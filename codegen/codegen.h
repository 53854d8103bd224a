/* codegen.h — code generation for fused groups, the parts that need no JIT: lowering a
 * group of IR nodes to the kernel IR (kir.h), the kernel description a runtime needs to call
 * it (buffers and the dims layout), and the CUDA C printer. The CPU JIT is in cpu.h.
 *
 * A group is given as node indices of one graph (topological order); passes/fusion.c marks
 * them with IrNode.group, but codegen takes any list. Its buffers are derived here:
 *   inputs   values outside the group that live group nodes read, in order of first read
 *            (scanning the group's nodes in order, operands in order);
 *   outputs  group nodes read outside the group or named by a graph output, plus the last
 *            node of the group, in node order.
 *
 * What lowers (codegen/ops_table.c has the rule of every op and the reason for each op that
 * does not): elementwise ops (unary, binary with NumPy broadcasting, comparisons, where,
 * cast), const and iota inside a group, reduce_sum/mean/max over any axes, softmax and
 * log_softmax over any axis, layernorm and rmsnorm, dropout (the run's key and training flag
 * come through dims), over f32, f64 and (where the interpreter allows) i32 values. Members
 * as passes/fusion.c forms them (ir/group.h) are understood: a matmul (an epilogue's root,
 * computed by BLAS first) and a leading reshape are read as input buffers (bufs[i].node is
 * that node: pass the product / the reshaped operand's memory), a trailing reshape is an
 * output whose buffer is indexed with its operand's shape (bufs[i].type; same elements).
 * A group's shape structure must be one of:
 *   elementwise  every output has the same shape (the iteration space);
 *   row          the reductions and norms all reduce the same axes of one iteration space
 *                (the operand of the first of them); each output is either that whole
 *                space or its rows (the space without the reduced axes, or with them as 1s).
 * Anything else is refused with a message (the runtime then runs the nodes one by one).
 */
#ifndef MAMC_CODEGEN_H
#define MAMC_CODEGEN_H

#include "kir.h"

/* ---- kernel description ------------------------------------------------------------------ */
enum { CG_MAX_BUFS = 32, CG_MAX_DIMS = 64, CG_COL_WARPS = 16 };

typedef void (*CgFn)(void *const *bufs, const int64_t *dims, int64_t begin, int64_t end);

typedef struct CgBufInfo {
  int node;    /* graph value (node index) */
  DType dt;    /* storage dtype: f32, f64, i32, or bf16 (KBuf.bf16) */
  int out;     /* 1 for outputs */
  IrType type; /* the value's IR type (rank, symbolic dims) */
} CgBufInfo;

/* dims[k], by buf (kir.h's KD_* codes):
 *   >= 0            product of shapes[buf][a0 .. a1) (1 for an empty range)
 *   CG_SLOT_SYM     dim_eval(sym, symvals)
 *   CG_SLOT_RNG_KEY a dropout node's key: rng_key(run->seed ^ seed, run->step) as in
 *                   runtime/rng.h (the interpreter's dropout stream), its 64 bits
 *   CG_SLOT_TRAINING run->training (dropout is the identity when 0) */
enum { CG_SLOT_SYM = KD_SYM, CG_SLOT_RNG_KEY = KD_RNG_KEY, CG_SLOT_TRAINING = KD_TRAINING };
typedef struct CgDimSlot {
  int buf, a0, a1;
  Dim sym;
  int64_t seed;
} CgDimSlot;

/* What a run contributes to dims (dropout): the interpreter's InterpCx seed/step/training. */
typedef struct CgRun {
  uint64_t seed;
  int64_t step;
  int training;
} CgRun;

typedef struct CgKernel {
  CgFn fn;              /* set by cg_cpu_compile; NULL otherwise */
  char name[24];        /* k_<hash of the KIR text> */
  int row;              /* 0: [begin, end) counts output elements; 1: it counts rows */
  int cols;             /* row kernels printed for columns (kir_columns): on a GPU, blocks of
                         * CG_COL_WARPS warps, 32 rows of the output a block */
  int naccs;            /* the KIR's accumulators (a column kernel's partial results per slice) */
  int nbufs, nin;       /* bufs[0 .. nin) inputs, then outputs */
  CgBufInfo bufs[CG_MAX_BUFS];
  int ndims;            /* length of the dims array */
  CgDimSlot dims[CG_MAX_DIMS];
  int nouter;           /* outer iteration count = product of dims[outer[i]] (1 if none) */
  int outer[KIR_MAX_AXES];
  int nred;             /* a row kernel's reduced length = product of dims[red[i]] (column kernels' slices) */
  int red[KIR_MAX_AXES];
} CgKernel;

/* Lower group `nodes` (nnodes node indices of g, topological) to k (initialised here; free
 * it with kir_free). 1 on success; 0 with a message in err (k left empty). */
int cg_lower(const IrProgram *p, const IrGraph *g, const int *nodes, int nnodes, Kir *k, char *err,
             size_t errlen);

/* Whether op has a lowering rule; if not and why is given, *why is the reason. */
int cg_op_supported(Op op, const char **why);

/* Describe a lowered kernel (out->fn = NULL). 0 with a message if it exceeds CG_MAX_*. */
int cg_describe(const Kir *k, CgKernel *out, char *err, size_t errlen);

/* Fill dims (k->ndims entries) from the buffers' actual shapes: shapes[i] is the shape of
 * bufs[i] (bufs[i].type.rank entries). symvals (p->syms order) may be NULL when no slot
 * needs it; when given, every shape is also checked against its buffer's IR type. run may
 * be NULL (not training). 1 on success; 0 with a message naming the buffer. */
int cg_fill_dims(const CgKernel *k, const int64_t *const *shapes, const int64_t *symvals, const CgRun *run,
                 int64_t *dims, char *err, size_t errlen);

/* The number of outer iterations: call fn over [0, cg_outer(k, dims)), whole or split at
 * boundaries that cg_split_row allows. */
int64_t cg_outer(const CgKernel *k, const int64_t *dims);
/* Where [0, cg_outer) may be split without changing a result (cpu.h): an elementwise kernel's
 * vectorised loops restart at each row of its innermost axis, and its libm calls round
 * differently in their vector and scalar forms, so a boundary must fall at a row start plus
 * a multiple of CG_SPLIT_GRAIN elements (any vector step divides it); the row length is
 * returned. 0 for row kernels (each row is computed whole: any boundary). */
enum { CG_SPLIT_GRAIN = 256 };
int64_t cg_split_row(const CgKernel *k, const int64_t *dims);
/* Division by d (1 <= d < 2^31) as a multiply: m | s << 32 with, for every 0 <= n < 2^31,
 * n / d == (((n * m) >> 32) + n) >> s (m < 2^32, s = ceil(log2 d)); 0 for other d. The CUDA
 * kernels' index splits take it per dims slot (CgArgs.mg: cuda_c.c's cg_udiv). */
uint64_t cg_div_magic(int64_t d);

/* ---- CUDA C (codegen/cuda_c.c) -----------------------------------------------------------
 * Appends one translation unit: a prelude of overloaded cg_* helpers, then
 *   extern "C" __global__ void <name>(CgArgs a, long long begin, long long end)
 * where CgArgs holds the buffer pointers (bufs[i], typed) and the dims by value:
 *   struct CgArgs { void *bufs[nbufs]; long long dims[ndims]; unsigned long long mg[ndims]; }
 * (the same buffers and dims as the CPU convention; mg[k] = cg_div_magic(dims[k])). A grid-stride loop covers the outer
 * range: a thread per element (elementwise) or a warp of 32 threads per row (row kernels:
 * launch 32 * rows threads, a multiple of 32 per block), or for column reductions
 * (CgKernel.cols) a block of 32 * CG_COL_WARPS threads per 32 rows (launch exactly that
 * block size: lane l takes row o0 + l, warp w every CG_COL_WARPS-th reduced index from w).
 * A column kernel's CgArgs ends with { unsigned char *part_; int *cnt_; }: launched with
 * gridDim.y = S > 1 (dev_cg.c: from CgKernel.red's rows), block y reduces the y-th of S
 * equal slices of the reduced range, writes
 * its partial results into part_ (CgKernel.naccs regions of S * groups * 32 slots of 8 bytes,
 * a group being 32 rows of the output) and counts itself in cnt_[group] (zeroed before the
 * launch); the group's last block adds the S partial results in slice order (deterministic)
 * and stores. With S = 1 neither is touched. */
void cg_cuda_print(StrBuf *b, const Kir *k, const char *name);
/* The two halves of cg_cuda_print, to put several kernels in one translation unit: the
 * prelude once, then each kernel (struct and entry point). */
void cg_cuda_prelude(StrBuf *b);
void cg_cuda_print_kernel(StrBuf *b, const Kir *k, const char *name);

#endif
