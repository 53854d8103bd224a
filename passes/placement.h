/* placement.h — which processes train which tasks, and what that makes each process hold
 * (issue #5; docs/distributed.md).
 *
 * Input: the program (which graphs read each module instance, its gradient bytes, its sync
 * policy) and one PlaceTask per task of the run configuration. Tasks with explicit ranks keep
 * them; the others are assigned to minimise communication over the real module sets:
 *
 *   cost = Σ_modules  rate(m) · 2 (holders(m) − 1) · bytes(m)          [bytes per step]
 *
 * — the bytes a bandwidth-optimal all-reduce of m's gradient moves when every holder takes
 * part, times how often m syncs (every(n): 1/n, outer(every = H): 1/H, local: 0) — subject to:
 *   - every rank has at least one task introduced at step 0 (busy from the first step);
 *   - each rank's expected work is within ±tolerance of the mean. Every rank trains one batch
 *     per step, drawn among its own tasks (MAMMOTH's per-rank sampling), so a task's share of
 *     all tokens follows its weight only when the ranks' total weights are equal; the load
 *     of a task is weight^(1/temperature) × the fraction of the run it is active.
 * A task heavier than a rank's fair share, or needed to make every rank busy, is split over k
 * ranks as MAMMOTH splits large pairs: copy i reads every (k·stride)-th line from offset
 * offset + i·stride, and has sampler weight weight · k^(−temperature) (so its probability is
 * 1/k of the task's). A task listed with several explicit ranks is split the same way.
 *
 * The search: a greedy start (heaviest copy first, to the rank that adds least cost within
 * the balance cap) then local search with moves and swaps, from several seeded starts and
 * from the baselines' placements; deterministic for a given seed. The baselines:
 * PLACE_MAMMOTH runs the same search on MAMMOTH's approximation of the module sets (each
 * task's components are {src_lang, src_group, tgt_lang, tgt_group}, each costing holders − 1;
 * mammoth/utils/gpu_assignment.py), PLACE_ROUNDROBIN deals tasks over ranks in order (MAMMOTH
 * without node_gpu). Their cost is always reported with the exact model above.
 *
 * Per-rank sampling (every rank computes every rank's schedule): rank r draws among the
 * copies placed on it, in ascending task order, with their sampler weights, the run's
 * temperature and sampling seed, and stream r (runtime/data/sampler.h).
 */
#ifndef MAMC_PASSES_PLACEMENT_H
#define MAMC_PASSES_PLACEMENT_H

#include "ir.h"

typedef struct PlaceTask {
  const char *name;
  int graph;                 /* its task graph in the program: the modules it trains */
  double weight;             /* sampling weight, > 0 */
  int64_t introduce_at_step;
  int nranks;                /* > 0: explicit ranks, kept; 0: placed automatically */
  const int *ranks;
  int stride, offset;        /* the task's own line split (1, 0 when none) */
  int ncomps;                /* MAMMOTH's approximate components (PLACE_MAMMOTH only) */
  const char *const *comps;
} PlaceTask;

typedef struct PlaceInput {
  const IrProgram *prog;
  int ntasks;
  const PlaceTask *tasks;
  int nranks;
  double temperature;        /* p ∝ weight^(1/temperature); <= 0 means 1 */
  int64_t steps;             /* run length (a task introduced late weighs less); <= 0: ignore */
  uint64_t seed;             /* search order and restarts */
  double tolerance;          /* load within ±tolerance of the mean; <= 0 means 0.1 */
  int restarts;              /* greedy starts; <= 0 means 8 */
} PlaceInput;

typedef enum { PLACE_EXACT, PLACE_MAMMOTH, PLACE_ROUNDROBIN } PlaceMethod;

typedef struct PlaceCopy {
  int task, rank;
  int stride, offset;        /* the corpus lines this copy reads */
  double weight;             /* its sampler weight */
  double load;               /* its share of the expected work */
  int fixed;                 /* from explicit ranks */
} PlaceCopy;

typedef struct Placement {
  int nranks, ncopies;
  PlaceCopy *copies;         /* ascending (task, rank) */
  double *load;              /* per rank */
  double mean_load;
  double cost;               /* the exact cost above, bytes per step */
  double imbalance;          /* max over ranks of |load / mean − 1| */
  int nmodules;
  int *nholders;             /* per module instance: the ranks that hold it, ascending */
  int **holders;
  double seconds;            /* search time */
} Placement;

/* Places the tasks (method: see above). Errors (an explicit rank out of range, a rank that
 * cannot be busy from step 0, a task without weight) go to d; returns 1 on success. */
int place_run(const PlaceInput *in, PlaceMethod method, Arena *a, Placement *out, Diag *d);

/* The copies on rank r, as indices into pl->copies (ascending task order); returns how many. */
int place_rank_copies(const Placement *pl, int rank, int *out);

/* IrModule.ranks = the holders of each module instance. */
void place_apply(IrProgram *p, const Placement *pl);

/* The gradient bytes of a module instance (its trainable float parameters), and how many
 * times per step it synchronises (every(n): 1/n; outer(every = H): 1/H; local: 0). */
int64_t place_module_bytes(const IrProgram *p, int module);
double place_sync_rate(const SyncPolicy *s);

const char *place_method_name(PlaceMethod m); /* "mamc", "mammoth-approx", "round-robin" */

#endif
