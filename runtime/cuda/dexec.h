/* dexec.h — the device executor: runs one task graph of a compiled program on a GPU (dev.h),
 * the counterpart of the CPU's runtime/exec.h behind the same idea (one executor per graph,
 * symbolic dims bound per run, values freed at their last use, graph outputs handed to a
 * callback as soon as they are computed).
 *
 * Plan (dexec_init), per node:
 *   input            copied from the host (through page-locked staging, capturable)
 *   param            the device-resident parameter (DParams), never copied
 *   reshape, collective markers   a view of the operand's buffer (no copy; the interpreter's
 *                    collectives are identities too)
 *   fusion group     one generated kernel (NVRTC, dev_cg.c); an epilogue's GEMM first;
 *                    unfused elementwise / reduction / norm nodes run as a group of one.
 *                    A group that is exactly {matmul, add(matmul, bias[N])} or that followed by
 *                    gelu (tanh form, as cuBLASLt's) or relu, with nothing but its last node read
 *                    outside, is one cuBLASLt product with the BIAS / GELU_BIAS / RELU_BIAS
 *                    epilogue and no generated kernel (its kernel is still compiled: the
 *                    fallback where cuBLASLt has no algorithm with the epilogue for a shape).
 *                    In training graphs the group goes on past the gelu (its derivative,
 *                    which reads the add): the product then takes {matmul, add, gelu} with
 *                    GELU_AUX_BIAS (gelu's value, and the add's as its aux output, in the same
 *                    dtype) and the rest of the group runs after it as a group of its own.
 *                    {matmul, add bias, add(that, R)} and {matmul, add(matmul, R)} (a residual,
 *                    a sum of two products) take R as cuBLASLt's C (DGroup.resid).
 *                    MAMC_CUDA_EPILOGUE=0 turns that off.
 *   matmul           cuBLASLt (dev_gemm.c): flattened rows, strided batches, or per item;
 *                    reduce_sum(matmul(a, b, ta)) over the batch axes (a weight gradient) as
 *                    one GEMM over the flattened rows, as the CPU executor does
 *   transpose, slice, expand, pad, concat   k_copy_nd (or not run: folded into their readers,
 *                    dexec_copy.c, dexec_attn_io.c; a concat's operands written in place by their
 *                    producers, dexec_place.c);  gather, scatter_add   k_gather, k_scatter_add
 *   softmax_attention  k_attn_fwd (flash-style, D = 32, 64, 128; the kernels named 16 when
 *                    q, k, v, dO and the result are bf16 activations)
 *   softmax_attention_grad   k_attn_fwd (again, for o and lse), k_attn_bwd_pre, _dq, _dkdv
 *                    (D = Dv = 32, 64), packed with k_copy_nd
 *   linear_attention (causal or bidirectional; gates none/decay/learned; no running norm, no
 *                    state) and linear_attention_grad: k_la_* (chunked)
 *   cross_entropy    k_xent_rows + k_xent_sum (the probabilities are never stored);
 *                    cross_entropy_grad k_xent_count + k_xent_grad, or k_xent_grad alone reading
 *                    its forward's row log-sum-exps and count (dx_pair_xent)
 *   norm group {[add], layernorm | rmsnorm}   k_norm_fwd (a generated kernel under bf16
 *                    activations, so that it reads and writes bf16)
 *   groupnorm        k_norm_fwd (a warp per (row, group)), k_norm_fwd_small (a thread per
 *                    (row, group): groups narrower than 32 channels, DiJiang's)
 *   anything else    on the host: operands copied back, the interpreter's kernel, result up
 *                    (correct, slow, and it stops CUDA graph capture; MAMC_DEBUG_CUDA=1 lists
 *                    these nodes). MAMC_CUDA_HOST_OPS=op1,op2 forces ops to the host (to bisect
 *                    a wrong kernel on the device).
 * Values are f32 or i32 (4 bytes an element); f64 programs are refused. Under bf16 (precision:
 * bf16) activations derived from matrix products are stored as bf16 where every producer and
 * reader can (DExec.st, decided at plan time: dexec_dtype.c); parameters, inputs, outputs,
 * reductions, softmax and cross-entropy stay f32; arithmetic is f32 throughout.
 * In emu mode (dev.h) the hand-written kernels' ops run on the host path.
 */
#ifndef MAMC_DEXEC_H
#define MAMC_DEXEC_H

#include "dev.h"
#include "interp.h"

/* Device-resident parameters: one device buffer per ParamStore index (0 where this process
 * holds none), its bf16 copy where kept (0 otherwise). */
typedef struct DParams {
  int n;
  const int *first;   /* per module: first index (ParamStore.first) */
  DPtr *w, *wb;
} DParams;

typedef void (*DExecOutputFn)(void *user, int output, DPtr value, int64_t n);

typedef enum {
  DN_NONE, DN_INPUT, DN_PARAM, DN_VIEW, DN_GROUP, DN_GEMM, DN_SUMMED, DN_COPY, DN_GATHER, DN_SCATTER,
  DN_ATTN, DN_LINATTN, DN_XENT, DN_HOST, DN_FOLD, DN_INTO, DN_KIND_COUNT
} DKind;

typedef struct DGroup {
  int first, count, root;   /* members first .. first+count-1; root: an epilogue's matmul, or -1 */
  int norm;                 /* 1: run by k_norm_fwd (norm groups of the {[add], layernorm|rmsnorm} form) */
  int single;               /* a node outside any fusion group, run as a kernel of its own */
  int epi, bias;            /* epi (DevEpilogue): the group is root + add(bias[N]) (+ gelu | relu), run
                             * as one cuBLASLt product with that epilogue (GELU_AUX: the add's value
                             * too, read after the group), or root + gelu_grad(x, root) (DGELU);
                             * bias: the bias node (DGELU: x, the aux input) */
  int resid;                /* a node added to the product as cuBLASLt's C (DevGemm.R): the group is
                             * root + add(root, R) (another product's result), or root + add(bias) +
                             * add(that, R) (a residual; epi DEV_EPI_BIAS); R has the result's dims
                             * and dtype; -1 for none */
  int epi_off;              /* cuBLASLt refused the epilogue: the product, then the generated kernel */
  DevCg k;
} DGroup;

/* Does group g run as one cuBLASLt call (an epilogue or an added R, not refused)? */
static inline int dx_lt_group(const DGroup *g) { return (g->epi || g->resid >= 0) && !g->epi_off; }

/* Softmax attention on tensor cores, per node (dexec_attn_io.c): where its results go, and
 * what a gradient takes from its forward instead of computing it again */
typedef struct DAttnIo {
  int into[3];  /* the DN_INTO nodes whose buffers receive the result (o; a gradient's dq | dk |
                 * dv parts), or -1 */
  int fwd;      /* a gradient: the forward node whose o and lse it reads, or -1 (it runs the
                 * forward again); a cross-entropy gradient: the forward whose row log-sum-exps
                 * and count it reads (dx_pair_xent), or -1 */
  int lse_last; /* a forward: the last gradient that reads its lse (kept until then), or -1 */
  int kv;       /* a gradient wrt q: the gradient wrt k and v of the same attention, which it
                 * computes too (that node is DN_INTO), or -1 */
  DPtr lse;     /* a forward's kept lse [B, H, Sq] (f32), between the two; a cross-entropy's
                 * [rows + 1] (KaXent.row_lse) */
} DAttnIo;

typedef struct DExecStats {
  int64_t runs, host_nodes;     /* host_nodes: nodes run on the host in the last run */
  double host_seconds;
  int64_t kind_count[DN_KIND_COUNT];
  double gemm_flops;            /* of the last run */
  int64_t act_bytes16, act_bytes32; /* of the last run: bytes of the activations it allocated (its
                                 * values whose shape has a symbolic dim, but inputs and graph
                                 * outputs) stored as bf16, and as 4-byte f32/i32 */
  int64_t values16;             /* of the plan: values stored as bf16 (buffers, not views or
                                 * fused kernels' internal values) */
  int64_t attn_flash, attn_gemm; /* of the last run: softmax attention nodes run by the flash
                                 * kernels, and as products (dexec_attn.c) */
  int64_t attn_tc;              /* of those flash ones: on tensor cores (attention_tc.cu) */
  int64_t attn_reused;          /* gradients that read their forward's o and lse (DAttnIo.fwd) */
  int64_t xent_reused;          /* of the last run: cross-entropy gradients that read their
                                 * forward's row log-sum-exps and count (dx_pair_xent) */
  int64_t copies, copies_v16;   /* of the last run: k_copy_* launches, and of those in 16-byte elements */
  DevQueued launches[DN_KIND_COUNT]; /* of the last run: work queued on the stream (kernels,
                                 * products, copies, memsets) by nodes of each kind */
  int64_t linattn, linattn_tc;  /* of the last run: linear attention nodes (forward and gradient),
                                 * and of those on tensor cores (linattn_tc.cu) */
} DExecStats;

typedef struct DExec {
  Dev *dev;
  const IrProgram *p;
  int graph;
  int bf16;                 /* matrix products in bf16 (precision: bf16) */
  int no_act16;             /* bf16 activations refused for this plan (dx_dtype_check failed) */
  unsigned char *st;        /* per node: its value is stored as bf16 (views: as their base) */
  unsigned char *in16;      /* per node: as a generated kernel's input buffer, it is bf16 (st, or
                             * a leading reshape member's operand's) */
  int n;                    /* nodes */
  DKind *kind;
  int *grp;                 /* DN_GROUP: index into groups */
  DGroup *groups;
  int ngroups;
  int *last_use;            /* last reader, n for outputs */
  int *die_first, *die_next; /* per step, the values whose last_use it is (a list through die_next) */
  char *forward;
  char *summed;             /* per node: reduce_sum run as one GEMM (its matmul is DN_NONE) */
  int *bgrad;               /* per summed node: the column sum of its dY (a bias gradient) its GEMM
                             * writes too (DEV_EPI_BGRAD; that node is DN_INTO), or -1 */
  char *bgrad_off;          /* per summed node: cuBLASLt refused BGRAD: the column sum's own kernel */
  int *base;                /* per node: the node whose allocation holds its value (views), or -1 */
  int *refs;                /* per allocating node: live nodes sharing its buffer */
  DPtr *val;                /* per node: device address of its value (0: none) */
  DAttnIo *aio;             /* per node (softmax attention on tensor cores) */
  int *host;                /* per node: the concat whose buffer its value lies in, written there
                             * by its producer (dexec_place.c), or -1 */
  int64_t *sample[2];       /* plan time: two bindings of every symbol (1009 and 2003), to check
                             * what must hold in every run (layouts of folded reshapes) */
  DPtr *mem;                /* per allocating node: its allocation (freed when refs drops to 0) */
  int *out_first, *out_next;
  DExecOutputFn on_output;
  void *on_output_user;
  void **stage;             /* per input: page-locked staging buffer */
  size_t *stage_cap;
  uint64_t stage_gen;       /* bumped whenever a staging buffer moves (a captured graph reads them) */
  int ninputs;
  int capturable;           /* no host nodes and no dropout: a CUDA graph can replay a run */
  int debug_launches;       /* MAMC_DEBUG_CUDA_LAUNCHES=1: each step's launches to stderr */
  DExecStats stats;
  struct DProf *prof;       /* dexec_profile_on: per-step device times (dexec_prof.c) */
  char err[1024];
} DExec;

/* Plans graph `graph` of p and compiles its kernels (generated and hand-written). bf16:
 * products in bf16. 1 ok; 0 with e->err. */
int dexec_init(DExec *e, Dev *dev, const IrProgram *p, int graph, int bf16);
void dexec_free(DExec *e);
void dexec_on_output(DExec *e, DExecOutputFn fn, void *user);

/* Runs the graph: inputs (host tensors, one per INPUT node), parameters ps. Work is queued on
 * the device's stream (not waited for, unless a node runs on the host). Output values stay
 * valid until the next run or dexec_release. 1 ok; 0 with e->err. */
int dexec_run(DExec *e, const int64_t *symvals, const Tensor *inputs, const DParams *ps, const InterpCx *cx);
/* Checks the inputs against the shapes sym gives and copies them into the page-locked staging
 * buffers a run (or a CUDA graph captured from one: stage_gen says whether they moved) copies
 * from. 1 ok; 0 with e->err. */
int dexec_stage(DExec *e, const int64_t *symvals, const Tensor *inputs);
/* The device address of output k after a run (0 if absent) and its element count. */
DPtr dexec_output(const DExec *e, int k, const int64_t *symvals, int64_t *n);
void dexec_release(DExec *e);

/* The plan's kinds as text ("group 123, gemm 40, ..."), for gpu-info / benchmarks; with bf16
 * activations, how many values are bf16 and the last run's activation bytes by dtype. */
void dexec_summary(const DExec *e, StrBuf *b);
/* the last run's launches (DExecStats.launches summed over kinds) */
int64_t dexec_launches(const DExec *e);
const char *dexec_kind_name(DKind k);
/* Whether bf16 plans read weights as bf16 (their kept copy): not with MAMC_CUDA_BF16_WEIGHTS=0 */
int dexec_bf16_weights(void);
/* Profiling (dexec_prof.c): after dexec_profile_on, every run records a CUDA event around each
 * planned step (host time in the emulation) and adds the step's time to it; the report lists
 * the `top` steps by total time (kind, ops, shape), the share of each kind, and the `top` largest
 * sums of the steps by what they are (the label without its node: every layer's alike). Costs a few
 * microseconds a step: not for timed runs. 1 ok; 0 with e->err. */
int dexec_profile_on(DExec *e);
void dexec_profile_report(const DExec *e, StrBuf *b, int top);
/* How many steps were timed, and their total time a run (ms). */
int dexec_profile_steps(const DExec *e, double *ms_per_run);
/* The bytes the timed steps name (operands from outside each step, results read after it; in
 * their stored dtypes), summed: the report's model of a run's memory traffic. */
double dexec_profile_bytes(const DExec *e);

#endif
