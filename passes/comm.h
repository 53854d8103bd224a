/* comm.h — communication placement (issue #5; docs/distributed.md): the plan every rank
 * derives identically from the placed program, the per-step schedule, the byte accounting,
 * and the pass that inserts the collectives into the task graphs as a rank runs them.
 *
 * ---- The plan (comm_plan_build) --------------------------------------------------------------
 * A pure function of the module table after placement (IrModule.ranks, sync, used_by,
 * parameters) and the bucket size, so every rank builds the same plan without talking:
 *   - modules: each instance is NONE (fewer than two holders, or nothing to train), LOCAL
 *     (sync local: never communicated), OUTER (outer(every = H), and every(n > 1), which is
 *     parameter averaging every n steps — outer(every = n, lr = 1, momentum = 0): rounds,
 *     no per-step traffic) or EVERY (every(1): gradients reduced among its holders every
 *     step);
 *   - groups: the distinct holder sets (>= 2 ranks) of EVERY and OUTER modules, sorted by
 *     their rank lists — create one communicator per group, in this order, at start-up; a
 *     group is named "ranks[0, 2]" (the IR's `group = @ranks[0, 2]`);
 *   - buckets: the gradients of EVERY modules, in one global order — later modules of the
 *     table first, and later parameters of a module first (the backward pass produces the
 *     gradients of the last layers first) — cut into buckets of at most bucket_bytes (a
 *     larger tensor alone), each a contiguous stretch of that order. A bucket only holds
 *     modules with the same holders, the same training graphs (used_by) and the same
 *     `every`, so at every step either all of its tensors were trained by a rank or none
 *     was: its trainers are well defined.
 * A bucket's flat buffer: its members' gradients in member order (CommMember.offset, in
 * elements of the gradient dtype, f32), then one element: the token count.
 *
 * ---- The schedule (comm_schedule) -----------------------------------------------------------
 * Each rank knows the task every rank trains at step s (per-rank samplers, placement.h), so
 * each computes, for step s and bucket b:
 *   trainers  the holders whose graph this step reads b's modules (ascending);
 *   active    trainers non-empty (and s a sync step of b, (s + 1) % every == 0: every is 1);
 *             inactive buckets are elided: no traffic, and their modules take no update;
 *   receivers the holders that did not train (they get the result; they send nothing);
 *   root      the lowest trainer: it broadcasts the result to the receivers.
 * The operations of one step form one global sequence; each rank performs the subsequence it
 * takes part in, in this order, so the order is the same on every rank and no two ranks can
 * wait on each other in opposite orders, even when several buckets use one cached
 * communicator (communicators for trainer and broadcast sets are cached by rank set):
 *   1. for b ascending: the reduction of b among its trainers (MPI_SUM of tokens·gradient and
 *      tokens; non-blocking, issued at b's last allreduce_start), skipped for one trainer;
 *   2. for b ascending: the broadcast of b from root to the receivers (at allreduce_done);
 *   3. the global gradient norm: a sum of one f32 over the world (when clipping).
 * The reduced gradient of b is Σ_r tokens_r·g_r / Σ_r tokens_r over the trainers: the
 * gradient of the mean loss over every target token of the step (not a mean over ranks).
 *
 * ---- The pass (pass_comm; pipeline letter C, after simplify) ----------------------------------
 * For the rank in IrProgram.target (rank < 0 or nranks == 1: it changes nothing), on each
 * training graph (a loss and gradient outputs: autodiff ran) whose modules that rank holds
 * all of:
 *   - adds the input `%tokens: f32[]` (after the others): the runtime binds this rank's
 *     target-token count of the step (the denominator of its mean loss);
 *   - for every bucket of a group the rank belongs to, in bucket order, one allreduce_start
 *     per member: trained by this graph -> the gradient (a zero const where this graph's loss
 *     does not reach the parameter) and %tokens, {op = mean, weight = tokens}; not trained
 *     by this graph -> a zero const, {recv}. A bucket's starts are consecutive and come
 *     right after its last gradient is computed, but never before the previous bucket's;
 *   - at the end, the allreduce_done of every start in the same order; every
 *     grad.<module>.<param> output of the bucket returns its done (outputs are added for
 *     the members this graph does not train: the received gradient);
 *   - with target.clip, `grad_norm_sq`: Σ‖g‖² over the gradients this rank counts (an EVERY
 *     module: only on its lowest holder; the others: every holder, whose replicas are their
 *     own between rounds), summed by `allreduce {group = @world}`.
 * When a bucket is inactive at a step (no holder trained it) its done yields its operand,
 * the zeros of a recv slot — so the norm stays correct.
 *   - the rounds (DEPT, issue #6): OUTER modules get no per-step collective; for every module
 *     this graph trains that is synchronised in rounds (outer, every(n > 1); also with one
 *     holder, where the outer optimizer still steps), in module order, one
 *       %o = outer_sync %param[, %vocab_rows] {group = @ranks[..], every = H, lr, momentum,
 *                                              nesterov, rows}
 *     per trainable parameter, at the end, returned as `outer.<module>.<param>`: the value
 *     the parameter has after the step — on steps s with (s + 1) % H == 0 the holders'
 *     replicas combined by the outer optimizer (runtime/rounds.h), else the replica itself.
 *     every(n > 1) modules read as outer(every = n, lr = 1, momentum = 0). A holder takes
 *     part in every round of its modules, whatever graph it runs at that step: a rank's
 *     rounds are the union over the graphs it runs. `rows`: a table
 *     the TRIM rewrite trims (row-masked mean); in a graph that trains it, its vocab_rows is
 *     the second operand (the rows this rank contributes). rounds_from_graph
 *     (runtime/rounds.h) reads these back; the trainer's rounds equal them (tests/dept).
 * When the op runs in one process (the interpreter) it is the identity.
 */
#ifndef MAMC_PASSES_COMM_H
#define MAMC_PASSES_COMM_H

#include "ir.h"

enum { COMM_DEFAULT_BUCKET_BYTES = 10 << 20 }; /* MAMMOTH's 10 MiB buffer */
#define OUTER_PREFIX "outer." /* the rounds' outputs: outer.<module>.<param> */

typedef enum { COMM_NONE, COMM_EVERY, COMM_OUTER, COMM_LOCAL } CommKind;

typedef struct CommModule {
  CommKind kind;
  int group;          /* EVERY, OUTER: its holders' group; else -1 */
  int every;          /* OUTER: steps per round (EVERY: 1) */
  int64_t bytes;      /* gradient bytes (trainable float parameters) */
  int first_bucket, nbuckets; /* EVERY: its buckets (consecutive in the global order) */
} CommModule;

typedef struct CommGroup {
  int n;
  int *ranks;         /* ascending */
  const char *name;   /* "ranks[0, 2]" */
} CommGroup;

typedef struct CommMember {
  int module, param;
  int64_t offset, numel; /* in the bucket's flat buffer, in elements */
  DType dt;
} CommMember;

typedef struct CommBucket {
  int group, every;   /* every: 1 (every(n > 1) modules are OUTER) */
  int nused;
  int *used_by;       /* the graphs that train its modules, ascending */
  char *trained_by;   /* per graph: 1 if in used_by */
  int n;
  CommMember *members;
  int64_t numel;      /* gradient elements; the buffer has numel + 1 (the token count) */
  int64_t bytes;      /* gradient bytes */
} CommBucket;

typedef struct CommPlan {
  int nranks, ngraphs;
  int64_t bucket_bytes;
  int nmodules;
  CommModule *modules;
  int ngroups;
  CommGroup *groups;
  int nbuckets;
  CommBucket *buckets; /* the global order */
  char **trains;       /* [module][graph]: the graph reads the module (its used_by) */
} CommPlan;

/* Builds the plan (in arena a) for nranks processes; bucket_bytes <= 0 means the default.
 * Errors (a holder rank out of range) go to d; 1 on success. */
int comm_plan_build(const IrProgram *p, int nranks, int64_t bucket_bytes, Arena *a, CommPlan *out, Diag *d);

/* 1 if rank r is a holder of bucket b (a member of its group). */
int comm_bucket_has_rank(const CommPlan *pl, int b, int rank);

/* ---- the schedule ------------------------------------------------------------------------ */
typedef struct CommSlot {
  int active;
  int ntrainers, nreceivers;
  int *trainers;      /* ascending */
  int *receivers;     /* ascending */
  int root;           /* trainers[0] when active, else -1 */
} CommSlot;

typedef struct CommStep {
  int64_t step;
  int nslots;
  CommSlot *slots;    /* per bucket */
  int *graph_of_rank; /* the step's tasks, as given */
  int *storage;
} CommStep;

/* Allocates the slots for a plan (malloc; 1 on success) and frees them. */
int comm_step_alloc(const CommPlan *pl, CommStep *st);
void comm_step_free(CommStep *st);

/* Fills st for step `step`: graph_of_rank[r] is the task graph rank r trains at this step
 * (-1: none). A pure function of its arguments. */
void comm_schedule(const CommPlan *pl, int64_t step, const int *graph_of_rank, CommStep *st);

/* 1 if an outer round of module m (OUTER) ends after step `step` (0-based). */
int comm_outer_due(const CommPlan *pl, int m, int64_t step);

/* ---- bytes -------------------------------------------------------------------------------
 * Per rank, per step (docs/distributed.md defines each):
 *   wire     bytes this rank puts on the network under the bandwidth-optimal algorithms: a
 *            reduction of B bytes among k ranks sends 2(k − 1)/k·B from each (reduce-scatter
 *            + all-gather), a broadcast to i receivers moves i·B (counted at the root);
 *   payload  bytes this rank hands to MPI: B per reduction it joins with k >= 2, and B per
 *            broadcast it roots;
 *   minimum  the lower bound, per module instance with h >= 2 holders of which k >= 1
 *            trained: 2(k − 1)/k·B at each trainer and (h − k)·B at the lowest trainer —
 *            what any scheme must move so that every holder ends with the same reduced
 *            gradient (all-reduce bound, and each idle holder receiving B once);
 *   control  the token counts (one f32 per bucket, in wire terms) and the norm scalar;
 *   mammoth  MAMMOTH's scheme in wire terms: whenever any holder trained, all h holders
 *            all-reduce (zeros from those that did not), 2(h − 1)/h·B each.
 * Gradient bytes only in wire, payload, minimum and mammoth. */
typedef struct CommBytes {
  double wire, payload, minimum, control, mammoth;
} CommBytes;

/* At one scheduled step, into per_rank[0 .. nranks) (zeroed first). clip: count the norm. */
void comm_step_bytes(const CommPlan *pl, const CommStep *st, int clip, CommBytes *per_rank);

/* Expected per step when rank r trains graph g with probability prob[r][g] (independently
 * across ranks, as per-rank samplers draw), into per_rank (zeroed first). */
void comm_expected_bytes(const CommPlan *pl, const double *const *prob, int clip, CommBytes *per_rank);

/* ---- the pass ---------------------------------------------------------------------------- */
int pass_comm(IrProgram *p, int graph, Diag *d);

#endif
