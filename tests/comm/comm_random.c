/* comm_random.c — random MAMMOTH-like instances (comm_random.h). */
#include "comm_random.h"

#include <stdio.h>
#include <stdlib.h>

#include "autodiff.h"

uint64_t rand_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
double rand_unit(uint64_t *s) { return (double)(rand_next(s) >> 11) * 0x1p-53; }

static IrType ty2(int64_t a, int64_t b) {
  IrType t = {.dt = DT_F32, .rank = 2};
  t.d[0] = dim_const(a);
  t.d[1] = dim_const(b);
  return t;
}

static int add_module(RandInst *ri, const char *name, int64_t rows, SyncPolicy sync) {
  IrProgram *p = &ri->prog;
  int m = ir_module_add(p, name, "rand");
  p->modules.v[m].sync = sync;
  IrInit init = {INIT_NORMAL, 0, 0.1};
  ir_param_add(p, m, "w", ty2(4, 4), init);
  ir_param_add(p, m, "big", ty2(rows, 4), init);
  return m;
}

static int node(IrProgram *p, IrGraph *g, Op op, int a, int b) {
  int in[2] = {a, b};
  int id = ir_node_add(p, g, op, b >= 0 ? 2 : 1, in);
  if (op == OP_REDUCE_MEAN) {
    int64_t axes[2] = {0, 1};
    ir_set_ints(p, &g->nodes.v[id], "axes", axes, 2);
  }
  char err[256];
  if (!ir_infer(p, g, id, err, sizeof err)) {
    fprintf(stderr, "rand_instance: %s\n", err);
    return -1;
  }
  return id;
}

int rand_instance(RandInst *ri, const RandOpts *o) {
  memset(ri, 0, sizeof *ri);
  arena_init(&ri->arena);
  Arena *a = &ri->arena;
  IrProgram *p = &ri->prog;
  ir_program_init(p, a);
  uint64_t s = o->seed * 0x2545f4914f6cdd1dull + 1;
  int L = o->nlang, G = o->ngroups > 0 ? o->ngroups : 1;
  int *grp = ARENA_ARRAY(a, int, L);
  int *embed = ARENA_ARRAY(a, int, L), *enc = ARENA_ARRAY(a, int, L), *dec = ARENA_ARRAY(a, int, L);
  int *gm = ARENA_ARRAY(a, int, G);
  SyncPolicy every1 = {SYNC_EVERY, 1, 1, 0, 0}, local = {SYNC_LOCAL, 1, 1, 0, 0}, every2 = {SYNC_EVERY, 2, 1, 0, 0};
  for (int l = 0; l < L; l++) {
    grp[l] = l % G;
    char name[64];
    snprintf(name, sizeof name, "embed[l%d]", l);
    embed[l] = add_module(ri, name, 8 + (int64_t)(rand_next(&s) % 512), rand_unit(&s) < o->local_frac ? local : every1);
  }
  for (int l = 0; l < L; l++) {
    char name[64];
    snprintf(name, sizeof name, "enc[l%d]", l);
    enc[l] = add_module(ri, name, 64 + (int64_t)(rand_next(&s) % 1024), every1);
  }
  for (int g = 0; g < G; g++) {
    char name[64];
    snprintf(name, sizeof name, "grp[g%d]", g);
    gm[g] = add_module(ri, name, 64 + (int64_t)(rand_next(&s) % 512), o->every2 ? every2 : every1);
  }
  int core = add_module(ri, "core", 2048, every1);
  for (int l = 0; l < L; l++) {
    char name[64];
    snprintf(name, sizeof name, "dec[l%d]", l);
    dec[l] = add_module(ri, name, 256 + (int64_t)(rand_next(&s) % 2048), every1);
  }
  int T = o->ntasks, maxT = L * (L - 1);
  if (T > maxT) T = maxT;
  char *used = ARENA_ARRAY(a, char, L * L);
  ri->tasks = ARENA_ARRAY(a, PlaceTask, T);
  int B = ir_sym(p, "B");
  for (int k = 0; k < T; k++) {
    int src, tgt;
    do {
      src = (int)(rand_next(&s) % (uint64_t)L);
      tgt = (int)(rand_next(&s) % (uint64_t)L);
    } while (src == tgt || used[src * L + tgt]);
    used[src * L + tgt] = 1;
    char sa[16], ta[16];
    snprintf(sa, sizeof sa, "l%d", src);
    snprintf(ta, sizeof ta, "l%d", tgt);
    const char *args[2] = {arena_strdup(a, sa), arena_strdup(a, ta)};
    int gi = ir_graph_add(p, "translate", 2, args);
    IrGraph *g = &p->graphs.v[gi];
    IrType xt = {.dt = DT_F32, .rank = 2};
    xt.d[0] = dim_sym(B);
    xt.d[1] = dim_const(4);
    int h = ir_input_add(p, g, "x", xt), extra = -1;
    int mods[6] = {embed[src], enc[src], gm[grp[src]], core, embed[tgt], dec[tgt]};
    for (int i = 0; i < 6 && h >= 0; i++) {
      h = node(p, g, OP_MATMUL, h, ir_param_ref(p, g, mods[i], 0));
      int e = node(p, g, OP_REDUCE_MEAN, ir_param_ref(p, g, mods[i], 1), -1);
      extra = extra < 0 ? e : node(p, g, OP_ADD, extra, e);
      if (e < 0 || extra < 0) return 0;
    }
    int loss = h < 0 ? -1 : node(p, g, OP_ADD, node(p, g, OP_REDUCE_MEAN, h, -1), extra);
    if (loss < 0) return 0;
    ir_output_add(p, g, "loss", loss);
    PlaceTask *pt = &ri->tasks[k];
    pt->name = ir_graph_name(p, g);
    pt->graph = gi;
    pt->weight = 0.1 + 10 * rand_unit(&s) * rand_unit(&s);
    pt->introduce_at_step = rand_unit(&s) < o->late_frac ? 1 + (int64_t)(rand_next(&s) % (uint64_t)(o->steps / 2 + 1)) : 0;
    pt->stride = 1;
    if (rand_unit(&s) < o->explicit_frac) {
      int n = rand_unit(&s) < 0.2 && o->nranks > 1 ? 2 : 1;
      int *r = ARENA_ARRAY(a, int, n);
      r[0] = (int)(rand_next(&s) % (uint64_t)o->nranks);
      if (n == 2) r[1] = (r[0] + 1 + (int)(rand_next(&s) % (uint64_t)(o->nranks - 1))) % o->nranks;
      pt->ranks = r;
      pt->nranks = n;
    }
    const char **comps = ARENA_ARRAY(a, const char *, 4);
    char g1[16], g2[16];
    snprintf(g1, sizeof g1, "g%d", grp[src]);
    snprintf(g2, sizeof g2, "g%d", grp[tgt]);
    comps[0] = args[0];
    comps[1] = arena_strdup(a, g1);
    comps[2] = args[1];
    comps[3] = arena_strdup(a, g2);
    pt->comps = comps;
    pt->ncomps = 4;
  }
  Diag d;
  diag_init(&d);
  for (int gi = 0; o->grads && gi < p->graphs.n; gi++)
    if (!pass_autodiff(p, gi, &d)) {
      fprintf(stderr, "rand_instance: autodiff: %s\n", d.out.s ? d.out.s : "?");
      diag_free(&d);
      return 0;
    }
  int ok = ir_verify(p, &d);
  if (!ok) fprintf(stderr, "rand_instance: %s\n", d.out.s ? d.out.s : "?");
  diag_free(&d);
  ri->in = (PlaceInput){p, T, ri->tasks, o->nranks, 1.0, o->steps, o->seed, 0, 0};
  return ok;
}

void rand_free(RandInst *ri) { arena_free(&ri->arena); }
