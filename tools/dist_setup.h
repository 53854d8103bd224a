/* dist_setup.h — a run configuration's distributed view: placement and per-rank schedules
 * (see dist_setup.c). */
#ifndef MAMC_DIST_SETUP_H
#define MAMC_DIST_SETUP_H

#include "comm.h"
#include "config.h"
#include "data/sampler.h"
#include "placement.h"

typedef struct DistSetup {
  PlaceInput in;
  Placement pl;
  int nranks;
  int roundrobin;        /* sampling.strategy: roundrobin cycles through a rank's tasks */
  int *ncopies;          /* per rank: its copies (indices into pl.copies, ascending task) */
  int **copies;
  Sampler *samplers;     /* per rank (weighted) */
  int sources_per_round; /* dept.sources_per_round K (0: all): in each round of round_every
                          * steps only K of the nsources tasks train (rounds.h:
                          * dept_round_sources, from the sampling seed) — the trainer's draw */
  int nsources, round_every;
} DistSetup;

/* PlaceTask per configured task (graph k = task k), MAMMOTH's components from the task
 * arguments and their groups, the run's temperature, steps and sampling seed. */
void dist_place_input(const RunConfig *cfg, const IrProgram *p, int nranks, Arena *a, PlaceInput *in);

/* Places (method), applies the holders to p (IrModule.ranks) and builds the per-rank
 * samplers. Errors go to d; 1 on success. */
int dist_setup(const RunConfig *cfg, IrProgram *p, int nranks, PlaceMethod method, Arena *a, DistSetup *ds,
                   Diag *d);

/* The graph each rank trains at `step` (-1: none, or its source sits the round out). */
void dist_graphs_at(const DistSetup *ds, int64_t step, int *graph_of_rank);
/* prob[r][g]: the probability that rank r trains graph g at `step` (with
 * dept.sources_per_round, times K / N: a source's chance to be drawn for a round). */
void dist_probs_at(const DistSetup *ds, int64_t step, double **prob, int ngraphs);

#endif
