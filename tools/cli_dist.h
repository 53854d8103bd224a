/* cli_dist.h — the distributed view shared by `mamc place`, `mamc plan` and `mamc ir --rank`:
 * placement inputs from a run configuration, the placement applied to the program, and each
 * rank's task schedule (per-rank samplers: docs/distributed.md). */
#ifndef MAMC_CLI_DIST_H
#define MAMC_CLI_DIST_H

#include "cli.h"
#include "comm.h"
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
} DistSetup;

/* PlaceTask per configured task (graph k = task k), MAMMOTH's components from the task
 * arguments and their groups, the run's temperature, steps and sampling seed. */
void cli_place_input(const RunConfig *cfg, const IrProgram *p, int nranks, Arena *a, PlaceInput *in);

/* Places (method), applies the holders to p (IrModule.ranks) and builds the per-rank
 * samplers. Errors go to d; 1 on success. */
int cli_dist_setup(const RunConfig *cfg, IrProgram *p, int nranks, PlaceMethod method, Arena *a, DistSetup *ds,
                   Diag *d);

/* The graph each rank trains at `step`. */
void cli_dist_graphs_at(const DistSetup *ds, int64_t step, int *graph_of_rank);
/* prob[r][g]: the probability that rank r trains graph g at `step`. */
void cli_dist_probs_at(const DistSetup *ds, int64_t step, double **prob, int ngraphs);

/* For `mamc ir` / `mamc check` with --rank / --processes: sets l->prog->target (placing the
 * tasks first when a configuration was loaded). Returns EXIT_OK or EXIT_INPUT. */
int cli_dist_target(Loaded *l, const ModelOpts *o);

/* Removes "NAME VALUE" from argv (options the shared parser does not know) into *v; 0 (after
 * a message) when the value is not an integer, 1 otherwise (v unchanged when absent). */
int cli_take_int(int *argc, char **argv, const char *name, long long *v);
/* "1.25 MiB", "3.0 KiB", "12 B" */
void cli_human_bytes(char *s, size_t n, double bytes);

#endif
