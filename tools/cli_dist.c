/* cli_dist.c — from a run configuration to the distributed view (cli_dist.h): placement
 * inputs, the placement applied to the program, per-rank task schedules, and the compile
 * target of `mamc ir --rank R`. */
#include "cli_dist.h"

#include <stdlib.h>

void cli_place_input(const RunConfig *cfg, const IrProgram *p, int nranks, Arena *a, PlaceInput *in) {
  memset(in, 0, sizeof *in);
  int T = cfg->tasks.n;
  PlaceTask *tasks = ARENA_ARRAY(a, PlaceTask, T + 1);
  for (int k = 0; k < T; k++) {
    const CfgTask *t = &cfg->tasks.v[k];
    PlaceTask *pt = &tasks[k];
    pt->name = t->name.s;
    pt->graph = k < p->graphs.n ? k : -1;
    pt->weight = t->weight;
    pt->introduce_at_step = t->introduce_at_step;
    pt->nranks = t->ranks.n;
    pt->ranks = t->ranks.v;
    pt->stride = t->stride > 0 ? t->stride : 1;
    pt->offset = t->offset;
    /* MAMMOTH's components: each argument (src_lang, tgt_lang) and its group(s) */
    const char **comps = ARENA_ARRAY(a, const char *, 2 * t->args.n * (cfg->indexes.n + 1) + 1);
    for (int i = 0; i < t->args.n; i++) {
      comps[pt->ncomps++] = t->args.v[i].s;
      for (int x = 0; x < cfg->indexes.n; x++) {
        const char *grp = cfg->indexes.v[x].grouped ? cfg_index_group_of(&cfg->indexes.v[x], t->args.v[i].s) : NULL;
        if (grp) comps[pt->ncomps++] = grp;
      }
    }
    pt->comps = comps;
  }
  in->prog = p;
  in->ntasks = T;
  in->tasks = tasks;
  in->nranks = nranks;
  in->temperature = cfg->sampling.temperature;
  in->steps = cfg->train.steps;
  in->seed = (uint64_t)cfg->sampling.seed;
}

int cli_dist_setup(const RunConfig *cfg, IrProgram *p, int nranks, PlaceMethod method, Arena *a, DistSetup *ds,
                   Diag *d) {
  memset(ds, 0, sizeof *ds);
  ds->nranks = nranks;
  ds->roundrobin = cfg->sampling.strategy == CFG_SAMPLE_ROUNDROBIN;
  cli_place_input(cfg, p, nranks, a, &ds->in);
  if (!place_run(&ds->in, method, a, &ds->pl, d)) return 0;
  place_apply(p, &ds->pl);
  ds->ncopies = ARENA_ARRAY(a, int, nranks);
  ds->copies = ARENA_ARRAY(a, int *, nranks);
  ds->samplers = ARENA_ARRAY(a, Sampler, nranks);
  for (int r = 0; r < nranks; r++) {
    ds->copies[r] = ARENA_ARRAY(a, int, ds->pl.ncopies + 1);
    ds->ncopies[r] = place_rank_copies(&ds->pl, r, ds->copies[r]);
    SamplerTask *st = ARENA_ARRAY(a, SamplerTask, ds->ncopies[r] + 1);
    for (int i = 0; i < ds->ncopies[r]; i++) {
      const PlaceCopy *c = &ds->pl.copies[ds->copies[r][i]];
      st[i] = (SamplerTask){ds->in.tasks[c->task].name, c->weight, ds->in.tasks[c->task].introduce_at_step};
    }
    if (sampler_init(&ds->samplers[r], a, d, st, ds->ncopies[r], ds->in.temperature > 0 ? ds->in.temperature : 1,
                     ds->in.seed, (uint64_t)r) != 0)
      return 0;
  }
  return 1;
}

/* Round robin: the copies of rank r introduced by `step`, in turn. */
static int rr_pick(const DistSetup *ds, int r, int64_t step, int *nactive) {
  int n = 0;
  for (int i = 0; i < ds->ncopies[r]; i++) n += ds->in.tasks[ds->pl.copies[ds->copies[r][i]].task].introduce_at_step <= step;
  *nactive = n;
  if (!n) return -1;
  int64_t want = step % n;
  for (int i = 0; i < ds->ncopies[r]; i++)
    if (ds->in.tasks[ds->pl.copies[ds->copies[r][i]].task].introduce_at_step <= step && want-- == 0) return i;
  return -1;
}

void cli_dist_graphs_at(const DistSetup *ds, int64_t step, int *graph_of_rank) {
  for (int r = 0; r < ds->nranks; r++) {
    int n, i = ds->roundrobin ? rr_pick(ds, r, step, &n) : sampler_task_at(&ds->samplers[r], step);
    graph_of_rank[r] = i < 0 ? -1 : ds->in.tasks[ds->pl.copies[ds->copies[r][i]].task].graph;
  }
}

void cli_dist_probs_at(const DistSetup *ds, int64_t step, double **prob, int ngraphs) {
  for (int r = 0; r < ds->nranks; r++) {
    for (int g = 0; g < ngraphs; g++) prob[r][g] = 0;
    double *p = malloc(sizeof(double) * (size_t)(ds->ncopies[r] + 1));
    if (!p) continue;
    int n = 0;
    if (ds->roundrobin) {
      rr_pick(ds, r, step, &n);
      for (int i = 0; i < ds->ncopies[r]; i++)
        p[i] = n && ds->in.tasks[ds->pl.copies[ds->copies[r][i]].task].introduce_at_step <= step ? 1.0 / n : 0;
    } else {
      sampler_probs_at(&ds->samplers[r], step, p);
    }
    for (int i = 0; i < ds->ncopies[r]; i++) {
      int g = ds->in.tasks[ds->pl.copies[ds->copies[r][i]].task].graph;
      if (g >= 0 && g < ngraphs) prob[r][g] += p[i];
    }
    free(p);
  }
}

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
    if (!cli_dist_setup(l->cfg, p, nranks, PLACE_EXACT, &l->arena, &ds, &l->diag)) {
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
  if (bytes >= 1 << 20)
    snprintf(s, n, "%.2f MiB", bytes / (1 << 20));
  else if (bytes >= 1 << 10)
    snprintf(s, n, "%.1f KiB", bytes / (1 << 10));
  else
    snprintf(s, n, "%.0f B", bytes);
}
