/* equiv.c — see equiv.h: interpreter runs before/after a pass, and the plan-respecting
 * evaluator that proves a memory plan never overwrites a live value. */
#include "equiv.h"

#include <math.h>
#include <stdlib.h>

#include "group.h"
#include "rng.h"

void eq_symbols(const IrProgram *p, int64_t *symvals) {
  for (int i = 0; i < p->syms.n; i++) {
    const char *s = p->syms.v[i];
    symvals[i] = !strcmp(s, "B") ? 2 : !strcmp(s, "S") ? 5 : !strcmp(s, "T") ? 6 : 3;
  }
}

void eq_free(Tensor *t, int n) {
  for (int i = 0; t && i < n; i++) rt_tensor_free(&t[i]);
}

static int eval_shape(const IrType *t, const int64_t *symvals, int64_t *shape) {
  for (int i = 0; i < t->rank; i++)
    if ((shape[i] = dim_eval(t->d[i], symvals)) < 0) return 0;
  return 1;
}

int eq_inputs(const IrProgram *p, const IrGraph *g, const int64_t *symvals, uint64_t seed, Tensor *inputs) {
  (void)p;
  int k = 0;
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op != OP_INPUT) continue;
    int64_t shape[IR_MAX_RANK];
    Tensor *t = &inputs[k++];
    int ints = n->type.dt == DT_I32;
    if (!eval_shape(&n->type, symvals, shape) || !rt_tensor_alloc(t, ints ? DT_I32 : DT_F64, n->type.rank, shape))
      return 0;
    uint64_t key = rng_key(seed, (uint64_t)k);
    for (int64_t e = 0; e < t->n; e++)
      rt_tensor_set(t, e, ints ? (double)(rng_u64(key, (uint64_t)e) % 5) : rng_normal(key, (uint64_t)e));
  }
  return 1;
}

static int copy_outputs(const IrGraph *g, const Tensor *const *val, Tensor *outs) {
  for (int o = 0; o < g->outputs.n; o++)
    if (!rt_tensor_copy(val[g->outputs.v[o].node], &outs[o])) return 0;
  return 1;
}

int eq_run(const IrProgram *p, int graph, const int64_t *symvals, const Tensor *inputs, const ParamStore *ps,
           Tensor *outs, char *err, size_t errlen) {
  const IrGraph *g = &p->graphs.v[graph];
  Tensor *vals = calloc((size_t)g->nodes.n + 1, sizeof *vals);
  const Tensor **vp = malloc(sizeof *vp * ((size_t)g->nodes.n + 1));
  InterpCx cx = {.fdt = DT_F64};
  int ok = vals && vp && interp_graph(p, g, symvals, inputs, ps, vals, &cx);
  if (!ok) snprintf(err, errlen, "%s", cx.err[0] ? cx.err : "out of memory");
  for (int i = 0; ok && i < g->nodes.n; i++) vp[i] = &vals[i];
  if (ok) ok = copy_outputs(g, vp, outs);
  if (vals) interp_values_free(vals, g->nodes.n);
  free(vals);
  free(vp);
  return ok;
}

/* ---- the plan-respecting evaluator ------------------------------------------------------------ */

typedef struct Pe {
  const IrProgram *p;
  const IrGraph *g;
  const MemPlan *mp;
  const int64_t *symvals;
  char **slot;         /* slot memory */
  Tensor *view;        /* planned values: views into their slot; others: owned temporaries */
  const Tensor **val;  /* where each node's value is read from */
  InterpCx cx;
} Pe;

/* Node id's result (in tmp) into its slot. */
static void store(Pe *e, int id, Tensor *tmp) {
  Tensor *v = &e->view[id];
  *v = *tmp;
  v->data = e->slot[e->mp->slot[id]];
  memcpy(v->data, tmp->data, (size_t)tmp->n * (size_t)dtype_size(tmp->dt));
  rt_tensor_free(tmp);
  e->val[id] = v;
}

/* Runs node id on the values its operands have now; the result into out. */
static int run_node(Pe *e, int id, Tensor *out, const Tensor **ins) {
  const IrNode *n = &e->g->nodes.v[id];
  for (int k = 0; k < n->nin; k++) {
    ins[k] = e->val[n->in[k]];
    if (!ins[k]) {
      snprintf(e->cx.err, sizeof e->cx.err, "%%%d reads %%%d, which has no value", id, n->in[k]);
      return 0;
    }
  }
  memset(out, 0, sizeof *out);
  return interp_node(e->p, e->g, id, e->symvals, ins, out, &e->cx);
}

int eq_run_plan(const IrProgram *p, const MemPlan *mp, const int64_t *symvals, const Tensor *inputs,
                const ParamStore *ps, Tensor *outs, char *err, size_t errlen) {
  const IrGraph *g = &p->graphs.v[mp->graph];
  int n = g->nodes.n, maxin = 1, ok = 1, ninput = 0;
  static const int elsize[DT_COUNT] = {[DT_F32] = 8, [DT_BF16] = 8, [DT_F16] = 8, [DT_I32] = 4, [DT_F64] = 8};
  Pe e = {p, g, mp, symvals, calloc((size_t)mp->nslots + 1, sizeof(char *)), calloc((size_t)n + 1, sizeof(Tensor)),
          calloc((size_t)n + 1, sizeof(Tensor *)), {.fdt = DT_F64}};
  for (int i = 0; i < n; i++)
    if (g->nodes.v[i].nin > maxin) maxin = g->nodes.v[i].nin;
  const Tensor **ins = malloc(sizeof *ins * (size_t)maxin);
  char *owned = calloc((size_t)n + 1, 1); /* view[i] is a temporary to free */
  ok = e.slot && e.view && e.val && ins && owned;
  for (int s = 0; ok && s < mp->nslots; s++) {
    int64_t bytes = memplan_slot_bytes(mp, s, symvals, elsize);
    e.slot[s] = malloc((size_t)bytes + 8);
    if (!e.slot[s]) ok = 0;
    else memset(e.slot[s], 0xff, (size_t)bytes + 8); /* NaN everywhere: stale reads show */
  }
  for (int i = 0; ok && i < n;) {
    const IrNode *x = &g->nodes.v[i];
    if (x->op == OP_INPUT) {
      e.val[i++] = &inputs[ninput++];
      continue;
    }
    if (x->op == OP_PARAM) {
      e.val[i++] = rt_params_get(ps, x->module, x->param);
      continue;
    }
    if (mp->view[i] >= 0) { /* a reshape: the same memory, another shape */
      const Tensor *src = e.val[mp->view[i]];
      int64_t shape[IR_MAX_RANK];
      ok = src && eval_shape(&x->type, symvals, shape);
      if (ok) {
        e.view[i] = *src;
        e.view[i].rank = x->type.rank;
        memcpy(e.view[i].shape, shape, sizeof shape);
        ok = rt_numel(x->type.rank, shape) == src->n;
        e.val[i] = &e.view[i];
      }
      if (!ok) snprintf(e.cx.err, sizeof e.cx.err, "%%%d: a view that does not fit its operand", i);
      i++;
      continue;
    }
    int j = i + 1;
    while (x->group >= 0 && j < n && g->nodes.v[j].group == x->group) j++;
    /* one step: members i .. j-1 into temporaries, then the planned ones into their slots */
    for (int k = i; k < j && ok; k++) {
      ok = run_node(&e, k, &e.view[k], ins);
      if (ok) {
        e.val[k] = &e.view[k];
        owned[k] = 1;
      }
    }
    for (int k = i; k < j && ok; k++) {
      if (mp->slot[k] >= 0) {
        Tensor tmp = e.view[k];
        owned[k] = 0;
        store(&e, k, &tmp);
      } else if (mp->slot[k] == MP_FUSED) {
        rt_tensor_free(&e.view[k]); /* no buffer: gone after the group */
        owned[k] = 0;
        e.val[k] = NULL;
      } else {
        ok = 0;
        snprintf(e.cx.err, sizeof e.cx.err, "%%%d has no slot", k);
      }
    }
    i = j;
  }
  if (ok) ok = copy_outputs(g, e.val, outs);
  if (!ok) snprintf(err, errlen, "%s", e.cx.err[0] ? e.cx.err : "out of memory");
  for (int i = 0; i < n && e.view; i++)
    if (owned[i]) rt_tensor_free(&e.view[i]);
  for (int s = 0; e.slot && s < mp->nslots; s++) free(e.slot[s]);
  free(e.slot);
  free(e.view);
  free(e.val);
  free(ins);
  free(owned);
  return ok;
}

/* ---- comparing ------------------------------------------------------------------------------------ */

double eq_max_diff(const IrGraph *ga, const Tensor *va, const IrGraph *gb, const Tensor *vb) {
  double worst = 0;
  if (ga->outputs.n != gb->outputs.n) return -1;
  for (int i = 0; i < ga->outputs.n; i++) {
    int j = 0;
    while (j < gb->outputs.n && strcmp(gb->outputs.v[j].name, ga->outputs.v[i].name) != 0) j++;
    if (j == gb->outputs.n || !rt_same_shape(&va[i], &vb[j])) return -1;
    for (int64_t e = 0; e < va[i].n; e++) {
      double a = rt_tensor_get(&va[i], e), b = rt_tensor_get(&vb[j], e);
      if (isnan(a) && isnan(b)) continue;
      double d = fabs(a - b) / (fabs(b) > 1 ? fabs(b) : 1);
      if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
  }
  return worst;
}

int eq_check_graph(const IrProgram *pa, const IrProgram *pb, int graph, const ParamStore *ps, int plan, uint64_t seed,
                   char *err, size_t errlen) {
  const IrGraph *ga = &pa->graphs.v[graph], *gb = &pb->graphs.v[graph];
  int64_t sa[64], sb[64];
  int nin = 0, no = ga->outputs.n, result = 1;
  if (pa->syms.n > 64 || pb->syms.n > 64) return snprintf(err, errlen, "too many symbols"), 0;
  eq_symbols(pa, sa);
  eq_symbols(pb, sb);
  for (int i = 0; i < ga->nodes.n; i++) nin += ga->nodes.v[i].op == OP_INPUT;
  Tensor *in = calloc((size_t)nin + 1, sizeof *in), *oa = calloc((size_t)no + 1, sizeof *oa),
         *ob = calloc((size_t)gb->outputs.n + 1, sizeof *ob), *op = calloc((size_t)gb->outputs.n + 1, sizeof *op);
  char why[512];
  if (!in || !oa || !ob || !op || !eq_inputs(pa, ga, sa, seed, in)) {
    snprintf(err, errlen, "out of memory");
    result = 0;
  } else if (!eq_run(pa, graph, sa, in, ps, oa, why, sizeof why)) {
    snprintf(err, errlen, "%s", why);
    result = -1;
  } else if (!eq_run(pb, graph, sb, in, ps, ob, why, sizeof why)) {
    snprintf(err, errlen, "after the passes: %s", why);
    result = 0;
  } else {
    double d = eq_max_diff(ga, oa, gb, ob);
    if (!(d >= 0 && d <= 1e-12)) {
      snprintf(err, errlen, "outputs differ after the passes: max relative difference %g", d);
      result = 0;
    }
    Arena a;
    arena_init(&a);
    MemPlan mp;
    Diag dg;
    diag_init(&dg);
    if (result == 1 && plan) {
      if (!memplan_build(pb, graph, &a, &mp, &dg) || !memplan_check(pb, &mp, why, sizeof why)) {
        snprintf(err, errlen, "memplan: %s", dg.out.s ? dg.out.s : why);
        result = 0;
      } else if (!eq_run_plan(pb, &mp, sb, in, ps, op, why, sizeof why)) {
        snprintf(err, errlen, "under the memory plan: %s", why);
        result = 0;
      } else if (!((d = eq_max_diff(ga, oa, gb, op)) >= 0 && d <= 1e-12)) {
        snprintf(err, errlen, "outputs differ under the memory plan: max relative difference %g", d);
        result = 0;
      }
    }
    diag_free(&dg);
    arena_free(&a);
  }
  eq_free(in, nin);
  eq_free(oa, no);
  eq_free(ob, gb->outputs.n);
  eq_free(op, gb->outputs.n);
  free(in);
  free(oa);
  free(ob);
  free(op);
  return result;
}
