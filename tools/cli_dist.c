/* cli_dist.c — from a run configuration to the distributed view (cli_dist.h): placement
 * inputs, the placement applied to the program, per-rank task schedules, and the compile
 * target of `mamc ir --rank R`. */
#include "cli_dist.h"

#include <stdlib.h>

int cli_dist_target(Loaded *l, const ModelOpts *o) {
  IrProgram *p = l->prog;
  int nranks = o->processes > 0 ? o->processes : l->cfg ? l->cfg->processes : 1;
  if (!l->cfg) /* IR text: the holders are written in it */
    for (int m = 0; m < p->modules.n; m++)
      for (int i = 0; i < p->modules.v[m].ranks.n; i++)
        if (o->processes <= 0 && p->modules.v[m].ranks.v[i] >= nranks) nranks = p->modules.v[m].ranks.v[i] + 1;
  if (o->rank < 0 && nranks <= 1) return EXIT_OK; /* one process: nothing to place */
  int rank = o->rank >= 0 ? o->rank : 0;
  if (rank >= nranks) {
    fprintf(stderr, "mamc: --rank %d, but the run has %d process%s\n", rank, nranks, nranks == 1 ? "" : "es");
    return EXIT_INPUT;
  }
  if (l->cfg) {
    DistSetup ds;
    if (!dist_setup(l->cfg, p, nranks, PLACE_EXACT, &l->arena, &ds, &l->diag)) {
      cli_flush_diag(&l->diag);
      return EXIT_INPUT;
    }
    p->target.bucket_bytes = (int64_t)(l->cfg->train.bucket_mb * (1 << 20));
    p->target.clip = l->cfg->train.clip > 0;
  }
  p->target.rank = rank;
  p->target.nranks = nranks;
  return EXIT_OK;
}

int cli_take_int(int *argc, char **argv, const char *name, long long *v) {
  for (int i = 1; i < *argc; i++) {
    if (strcmp(argv[i], name) != 0) continue;
    char *end = NULL;
    if (i + 1 < *argc) *v = strtoll(argv[i + 1], &end, 10);
    if (!end || *end || end == argv[i + 1]) {
      fprintf(stderr, "mamc: %s needs an integer\n", name);
      return 0;
    }
    for (int j = i; j + 2 <= *argc; j++) argv[j] = argv[j + 2];
    *argc -= 2;
    i--;
  }
  return 1;
}

void cli_human_bytes(char *s, size_t n, double bytes) {
  if (bytes >= 1 << 30)
    snprintf(s, n, "%.1f GiB", bytes / (1 << 30));
  else if (bytes >= 1 << 20)
    snprintf(s, n, "%.2f MiB", bytes / (1 << 20));
  else if (bytes >= 1 << 10)
    snprintf(s, n, "%.1f KiB", bytes / (1 << 10));
  else
    snprintf(s, n, "%.0f B", bytes);
}
