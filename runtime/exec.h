/* exec.h — runs one task graph of a compiled program (forward, and backward when autodiff
 * has run): values live exactly as long as their last use, matrix products go through BLAS
 * (matmul.h), f32 ops through the hand-written kernels of runtime/fast/ where one fits, and
 * everything else through the reference interpreter's kernels.
 *
 * One Exec per graph; between runs it keeps only the values that depend on the shapes alone
 * (exec_hoist.h: a positional encoding, per length seen). Symbolic dims are bound per run, so
 * any batch shape runs on the same Exec.
 */
#ifndef MAMC_EXEC_H
#define MAMC_EXEC_H

#include "cpu.h"
#include "fast/fast.h"
#include "interp.h"
#include "pool.h"

enum { EXEC_MAX_GEMM_SHAPES = 64 };

typedef struct GemmShape {  /* one matrix-product shape seen, for benchmarks */
  int64_t batch, M, N, K;
  int ta, tb;
  int64_t count;
  double seconds;
} GemmShape;

typedef struct ExecStats {
  double seconds[3];        /* forward, backward, (unused: the optimizer lives in the trainer) */
  int64_t runs;
  double op_seconds[OP_COUNT];
  int64_t op_count[OP_COUNT];
  double gemm_flops;        /* 2*M*N*K*batch summed over the matrix products run */
  double gemm_seconds;      /* ... and the seconds they took (all shapes; gemm[] holds the first few) */
  double jit_seconds;       /* in fused-group kernels (epilogue GEMMs included) */
  int64_t jit_runs;
  int64_t hoist_runs;       /* invariant members computed (exec_hoist.h) ... */
  int64_t hoist_hits;       /* ... and found kept from an earlier run of the same shapes */
  int64_t xent_lse_reused;  /* cross_entropy_grad runs that read their forward's row log-sum-exps */
  int ngemm;
  GemmShape gemm[EXEC_MAX_GEMM_SHAPES];
} ExecStats;

/* Adds b into a (trainer totals over tasks). */
void exec_stats_add(ExecStats *a, const ExecStats *b);

typedef void (*ExecOutputFn)(void *user, int output, const Tensor *value);

typedef struct ExecHoist ExecHoist;

typedef struct ExecGroup {   /* a fusion group with its compiled kernel */
  int first, count;          /* member nodes */
  int root;                  /* an epilogue's matmul (run by BLAS before the kernel), else -1 */
  int ok;                    /* compiled; else its nodes run one by one */
  CgKernel k;                /* (k.fn NULL: every member hoisted) */
  ExecHoist *hoist;          /* its invariant members' kernel and kept values (exec_hoist.h), or NULL */
} ExecGroup;

typedef struct Exec {
  const IrProgram *p;
  int graph;
  int ngroups;
  ExecGroup *groups;         /* fusion groups with kernels (CPU JIT), in node order */
  int *group_at;             /* per node: index into groups when it is a group's first node, else -1 */
  char *summed_gemm;         /* per node: 1 for reduce_sum(matmul(a, b, ta)) over the batch axes,
                              * which runs as one GEMM over the flattened rows (the matmul node
                              * itself is then skipped): a weight gradient */
  char *forward;       /* per node: 1 if the loss depends on it (the forward pass); the
                        * rest is the backward pass (timed apart in stats) */
  int use_blas;        /* matrix products through BLAS */
  int use_fast;        /* f32 ops through runtime/fast before the interpreter */
                       /* MAMC_BACKEND=interp turns both off (benchmarks' baseline) */
  int *last_use;       /* per node: index of the last node reading it (n for outputs) */
  int *die_first, *die_next; /* per step, the values whose last_use it is (a list through die_next) */
  Tensor *vals;        /* owned values of the current run */
  const Tensor **ref;  /* per node: the value (owned in vals, or an input / parameter) */
  ExecStats stats;
  Pool *pool;          /* worker threads for fused kernels (exec_set_pool), or NULL */
  ExecOutputFn on_output;
  void *on_output_user;
  int *out_first;      /* per node: first output index naming it, or -1 (then out_next chains) */
  int *out_next;       /* per output: the next output naming the same node, or -1 */
  /* cross-entropy's row statistics kept from the forward for its gradient (fast.h FastLse): a
   * cross_entropy_grad reading the logits and targets of a cross_entropy with the same ignore
   * id is paired with it at exec_init, and reads the log-sum-exps that forward wrote in the
   * same run instead of computing its own (one pass over each row of the logits instead of
   * three). MAMC_XENT_LSE=0: no pairs (the benchmarks' baseline). */
  int *lse_slot;       /* per node: its pair's index into lse, or -1; NULL when there is none */
  FastLse *lse;
  int nlse;
} Exec;

/* Calls fn as soon as each graph output has its value during a run (before later nodes run),
 * so a trainer can start exchanging a gradient while the backward pass goes on. */
void exec_on_output(Exec *e, ExecOutputFn fn, void *user);
/* Fused kernels split their outer iterations over the pool's threads. */
void exec_set_pool(Exec *e, Pool *pool);

/* jit: a CPU JIT session for the graph's fusion groups (passes/fusion.c), or NULL to run
 * every node by itself. A group the JIT refuses runs node by node (MAMC_DEBUG_JIT=1 prints
 * why). 1 ok, 0 with err. */
int exec_init(Exec *e, const IrProgram *p, int graph, CgCpu *jit, char *err, size_t errlen);
void exec_free(Exec *e);

/* Runs the graph. inputs: one per INPUT node in order. Afterwards exec_output(e, k) is the
 * value of output k, valid until the next run or exec_free. 1 ok, 0 with cx->err. */
int exec_run(Exec *e, const int64_t *symvals, const Tensor *inputs, const ParamStore *ps, InterpCx *cx);
const Tensor *exec_output(const Exec *e, int k);
void exec_release(Exec *e); /* frees the values of the last run */
/* The values that die at each step of a graph of n nodes, from last_use (n: an output, never):
 * die_first[s] heads a list through die_next of the nodes whose last reader is step s. Both
 * executors (this one and the device's) build it after their last change to last_use. */
void exec_death_lists(const int *last_use, int n, int *die_first, int *die_next);
/* The cross_entropy whose row statistics cross_entropy_grad node i may read: the nearest
 * earlier one of the same logits, targets and ignore id (smoothing does not change them); -1
 * when there is none, when i is no cross_entropy_grad, or under MAMC_XENT_LSE=0. Both
 * executors pair by it (Exec.lse here, dx_pair_xent on the device). */
int exec_xent_forward(const IrGraph *g, int i);
/* After a run: how many values the executor still holds that are no output's (0: every value
 * was freed at its last reader; a test's check) */
int exec_stray_values(const Exec *e);

#endif
