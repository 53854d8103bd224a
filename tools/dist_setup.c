/* dist_setup.c — a run configuration's distributed view: placement inputs from the tasks,
 * the placement applied to the program (holders in IrModule.ranks), and each rank's task
 * schedule (per-rank samplers; docs/distributed.md). Used by the library (tools/api.c, which
 * places tasks that have no explicit ranks) and by `mamc place`, `mamc plan`, `mamc ir --rank`. */
#include "dist_setup.h"

#include <stdlib.h>

#include "rounds.h"

void dist_place_input(const RunConfig *cfg, const IrProgram *p, int nranks, Arena *a, PlaceInput *in) {
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

int dist_setup(const RunConfig *cfg, IrProgram *p, int nranks, PlaceMethod method, Arena *a, DistSetup *ds,
                   Diag *d) {
  memset(ds, 0, sizeof *ds);
  ds->nranks = nranks;
  ds->roundrobin = cfg->sampling.strategy == CFG_SAMPLE_ROUNDROBIN;
  ds->nsources = cfg->tasks.n;
  ds->round_every = cfg_round_every(cfg);
  if (cfg->dept.sources_per_round < ds->nsources && ds->round_every > 0)
    ds->sources_per_round = cfg->dept.sources_per_round;
  dist_place_input(cfg, p, nranks, a, &ds->in);
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

void dist_graphs_at(const DistSetup *ds, int64_t step, int *graph_of_rank) {
  char *in = ds->sources_per_round > 0 ? malloc((size_t)ds->nsources + 1) : NULL;
  if (in) dept_round_sources(ds->in.seed, step / ds->round_every, ds->nsources, ds->sources_per_round, in);
  for (int r = 0; r < ds->nranks; r++) {
    int n, i = ds->roundrobin ? rr_pick(ds, r, step, &n) : sampler_task_at(&ds->samplers[r], step);
    int g = i < 0 ? -1 : ds->in.tasks[ds->pl.copies[ds->copies[r][i]].task].graph;
    graph_of_rank[r] = g >= 0 && g < ds->nsources && in && !in[g] ? -1 : g; /* sits the round out */
  }
  free(in);
}

void dist_probs_at(const DistSetup *ds, int64_t step, double **prob, int ngraphs) {
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
      if (g >= 0 && g < ngraphs)
        prob[r][g] += ds->sources_per_round > 0 ? p[i] * ds->sources_per_round / ds->nsources : p[i];
    }
    free(p);
  }
}

