/* exec.c — the graph executor (see exec.h): a walk in topological order with liveness-based
 * freeing; matmul through BLAS, everything else through interp_node. */
#include "exec.h"

#include <stdlib.h>
#include <time.h>

#include "exec_hoist.h"
#include "fast/fast.h"
#include "matmul.h"

/* The invariant members of a group (exec_hoist.h) as a kernel of their own and the rest as
 * another; 0 (nothing changed) when there are none or either does not compile. */
static int compile_hoisted(Exec *e, CgCpu *jit, const char *marks, const int *members, int nm, ExecGroup *eg) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  int n = g->nodes.n, nh, nr, ok = 0;
  int *h = malloc(sizeof(int) * (size_t)nm), *r = malloc(sizeof(int) * (size_t)nm);
  char why[512];
  CgKernel kh;
  if (h && r && exec_hoist_split(g, marks, marks + n, marks + 2 * n, members, nm, h, &nh, r, &nr) &&
      cg_cpu_compile(jit, e->p, g, h, nh, &kh, why, sizeof why) &&
      (!nr || cg_cpu_compile(jit, e->p, g, r, nr, &eg->k, why, sizeof why))) {
    if (!nr) memset(&eg->k, 0, sizeof eg->k);
    ok = (eg->hoist = exec_hoist_new(&kh, g)) != NULL;
  }
  free(h), free(r);
  return ok;
}

/* Compiles the graph's fusion groups (nodes with the same IrNode.group, consecutive). */
static int compile_groups(Exec *e, CgCpu *jit, char *err, size_t errlen) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  int n = g->nodes.n;
  e->group_at = malloc(sizeof(int) * (size_t)(n + 1));
  e->groups = calloc((size_t)(n + 1), sizeof(ExecGroup));
  if (!e->group_at || !e->groups) return snprintf(err, errlen, "out of memory"), 0;
  for (int i = 0; i < n; i++) e->group_at[i] = -1;
  if (!jit) return 1;
  int debug = getenv("MAMC_DEBUG_JIT") != NULL;
  const char *hoist_env = getenv("MAMC_HOIST");
  /* marks: inv[n], cost[n], read_variant[n] (exec_hoist.h); NULL: no hoisting */
  char *marks = hoist_env && !strcmp(hoist_env, "0") ? NULL : calloc(3 * (size_t)n + 1, 1);
  if (marks) {
    exec_hoist_marks(g, marks, marks + n);
    for (int i = 0; i < n; i++)
      for (int k = 0; !marks[i] && k < g->nodes.v[i].nin; k++) marks[2 * n + g->nodes.v[i].in[k]] = 1;
    for (int k = 0; k < g->outputs.n; k++) marks[2 * n + g->outputs.v[k].node] = 1;
  }
  int members[4096];
  for (int i = 0; i < n;) {
    int gid = g->nodes.v[i].group, j = i;
    if (gid < 0) {
      i++;
      continue;
    }
    while (j < n && g->nodes.v[j].group == gid) j++;
    ExecGroup *eg = &e->groups[e->ngroups];
    eg->first = i;
    eg->count = j - i;
    eg->root = -1;
    int nm = 0;
    for (int k = i; k < j && nm < 4096; k++) {
      if (g->nodes.v[k].op == OP_MATMUL) { /* an epilogue's GEMM: BLAS, then the kernel reads it */
        eg->root = k;
        continue;
      }
      members[nm++] = k;
    }
    char why[512];
    eg->ok = nm > 0 && ((marks && compile_hoisted(e, jit, marks, members, nm, eg)) ||
                        cg_cpu_compile(jit, e->p, g, members, nm, &eg->k, why, sizeof why));
    if (!eg->ok && debug) fprintf(stderr, "mamc: jit: group at %%%d runs node by node: %s\n", i, why);
    if (eg->ok) e->group_at[i] = e->ngroups++;
    i = j;
  }
  free(marks);
  return 1;
}

/* reduce_sum over exactly the leading batch axes of a matmul {ta} whose operands have equal
 * batch dims and which nothing else reads: sum_b a[b]ᵀ b[b] = Aᵀ B over rows b*S + s. */
static void find_summed_gemms(Exec *e) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  int n = g->nodes.n;
  int *uses = calloc((size_t)n + 1, sizeof(int));
  if (!uses) return;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++) uses[g->nodes.v[i].in[k]]++;
  for (int k = 0; k < g->outputs.n; k++) uses[g->outputs.v[k].node]++;
  for (int i = 0; i < n; i++) {
    const IrNode *r = &g->nodes.v[i];
    if (r->op != OP_REDUCE_SUM || r->group >= 0 || ir_get_i(r, "keepdim")) continue;
    const IrNode *m = &g->nodes.v[r->in[0]];
    if (m->op != OP_MATMUL || m->group >= 0 || uses[r->in[0]] != 1 || !ir_get_i(m, "ta") || ir_get_i(m, "tb")) continue;
    const IrType *a = &g->nodes.v[m->in[0]].type, *b = &g->nodes.v[m->in[1]].type;
    int nb = m->type.rank - 2, ok = nb >= 1 && a->rank == m->type.rank && b->rank == m->type.rank;
    for (int d = 0; ok && d < nb; d++) ok = dim_eq(a->d[d], b->d[d]) && !dim_eq(a->d[d], dim_const(1));
    const AttrVal *ax = ir_get(r, "axes");
    ok = ok && ax->n == nb && a->dt == DT_F32;
    for (int d = 0; ok && d < nb; d++) ok = ax->ints[d] == d;
    if (!ok) continue;
    e->summed_gemm[i] = 1;
    for (int k = 0; k < 2; k++) /* the operands live until the reduce runs the product */
      if (e->last_use[m->in[k]] < i) e->last_use[m->in[k]] = i;
  }
  free(uses);
}

int exec_xent_forward(const IrGraph *g, int i) {
  const IrNode *gd = &g->nodes.v[i];
  const char *env = getenv("MAMC_XENT_LSE");
  if (gd->op != OP_CROSS_ENTROPY_GRAD || (env && strcmp(env, "0") == 0)) return -1;
  for (int j = i - 1; j >= 0; j--) {
    const IrNode *f = &g->nodes.v[j];
    if (f->op == OP_CROSS_ENTROPY && f->in[0] == gd->in[0] && f->in[1] == gd->in[1] &&
        ir_get_i(f, "ignore") == ir_get_i(gd, "ignore"))
      return j;
  }
  return -1;
}

/* Gives each cross_entropy_grad paired with its forward (exec_xent_forward) the forward's slot
 * of kept row log-sum-exps (Exec.lse). 0: out of memory. */
static int pair_xent(Exec *e) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  int n = g->nodes.n;
  for (int i = 0; i < n; i++) {
    int j = exec_xent_forward(g, i);
    if (j < 0) continue;
    if (!e->lse_slot) {
      e->lse_slot = malloc(sizeof(int) * (size_t)n);
      if (!e->lse_slot) return 0;
      for (int k = 0; k < n; k++) e->lse_slot[k] = -1;
    }
    if (e->lse_slot[j] < 0) {
      FastLse *v = realloc(e->lse, sizeof *v * (size_t)(e->nlse + 1));
      if (!v) return 0;
      e->lse = v;
      memset(&e->lse[e->nlse], 0, sizeof *v);
      e->lse_slot[j] = e->nlse++;
    }
    e->lse_slot[i] = e->lse_slot[j];
  }
  return 1;
}

int exec_init(Exec *e, const IrProgram *p, int graph, CgCpu *jit, char *err, size_t errlen) {
  memset(e, 0, sizeof *e);
  const IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n;
  e->p = p;
  e->graph = graph;
#ifdef MAMC_HAVE_BLAS
  e->use_blas = 1;
#endif
  e->use_fast = 1;
  const char *be = getenv("MAMC_BACKEND");
  if (be && strcmp(be, "interp") == 0) e->use_blas = e->use_fast = 0, jit = NULL;
  if (be && strcmp(be, "fast") == 0) jit = NULL; /* BLAS and fast kernels, no JIT */
  e->last_use = calloc((size_t)n + 1, sizeof(int));
  e->vals = calloc((size_t)n + 1, sizeof(Tensor));
  e->ref = calloc((size_t)n + 1, sizeof(Tensor *));
  e->forward = calloc((size_t)n + 1, 1);
  if (!e->last_use || !e->vals || !e->ref || !e->forward) {
    snprintf(err, errlen, "out of memory");
    exec_free(e);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    e->last_use[i] = i;
    for (int k = 0; k < g->nodes.v[i].nin; k++) e->last_use[g->nodes.v[i].in[k]] = i;
  }
  for (int k = 0; k < g->outputs.n; k++) e->last_use[g->outputs.v[k].node] = n;
  /* the forward pass: the loss and everything it depends on (all nodes without a loss) */
  int loss = -1;
  for (int k = 0; k < g->outputs.n; k++)
    if (strcmp(g->outputs.v[k].name, "loss") == 0) loss = g->outputs.v[k].node;
  if (loss < 0) memset(e->forward, 1, (size_t)n);
  else e->forward[loss] = 1;
  for (int i = n - 1; i >= 0; i--)
    if (e->forward[i])
      for (int k = 0; k < g->nodes.v[i].nin; k++) e->forward[g->nodes.v[i].in[k]] = 1;
  if (!compile_groups(e, jit, err, errlen)) {
    exec_free(e);
    return 0;
  }
  e->summed_gemm = calloc((size_t)n + 1, 1);
  if (e->summed_gemm && e->use_blas) find_summed_gemms(e);
  if (!e->summed_gemm || (e->use_fast && !pair_xent(e))) {
    snprintf(err, errlen, "out of memory");
    exec_free(e);
    return 0;
  }
  /* the values that die at each step, after every change to last_use (a summed GEMM's operands
   * live to its reduce_sum, which does not list them) */
  e->die_first = malloc(sizeof(int) * (size_t)(n + 1));
  e->die_next = malloc(sizeof(int) * (size_t)(n + 1));
  if (!e->die_first || !e->die_next) {
    snprintf(err, errlen, "out of memory");
    exec_free(e);
    return 0;
  }
  exec_death_lists(e->last_use, n, e->die_first, e->die_next);
  e->out_first = malloc(sizeof(int) * (size_t)(n + 1));
  e->out_next = malloc(sizeof(int) * (size_t)(g->outputs.n + 1));
  if (!e->out_first || !e->out_next) {
    snprintf(err, errlen, "out of memory");
    exec_free(e);
    return 0;
  }
  for (int i = 0; i < n; i++) e->out_first[i] = -1;
  for (int k = g->outputs.n - 1; k >= 0; k--) {
    int node = g->outputs.v[k].node;
    e->out_next[k] = e->out_first[node];
    e->out_first[node] = k;
  }
  return 1;
}

void exec_set_pool(Exec *e, Pool *pool) { e->pool = pool; }

typedef struct KernelCall {
  const CgKernel *k;
  void *const *bufs;
  const int64_t *dims;
} KernelCall;

static void kernel_range(void *ctx, int64_t begin, int64_t end) {
  const KernelCall *c = ctx;
  c->k->fn(c->bufs, c->dims, begin, end);
}

void exec_call_kernel(Pool *pool, const CgKernel *k, void *const *bufs, const int64_t *dims) {
  KernelCall call = {k, bufs, dims};
  /* rows are heavier than elements: split them sooner; element ranges at the boundaries that
   * keep the kernel's vector loops in step with an unsplit call (bit-identical results) */
  pool_run_aligned(pool, kernel_range, &call, cg_outer(k, dims), k->row ? 8 : 16384, cg_split_row(k, dims),
                   CG_SPLIT_GRAIN);
}

void exec_on_output(Exec *e, ExecOutputFn fn, void *user) {
  e->on_output = fn;
  e->on_output_user = user;
}

void exec_release(Exec *e) {
  if (!e->vals) return;
  int n = e->p->graphs.v[e->graph].nodes.n;
  for (int i = 0; i < n; i++) {
    rt_tensor_free(&e->vals[i]);
    e->ref[i] = NULL;
  }
}

void exec_free(Exec *e) {
  exec_release(e);
  for (int k = 0; e->groups && k < e->ngroups; k++) exec_hoist_free(e->groups[k].hoist);
  free(e->last_use);
  free(e->die_first);
  free(e->die_next);
  free(e->vals);
  free(e->ref);
  free(e->forward);
  free(e->group_at);
  free(e->groups);
  free(e->out_first);
  free(e->out_next);
  free(e->summed_gemm);
  for (int k = 0; k < e->nlse; k++) free(e->lse[k].v);
  free(e->lse);
  free(e->lse_slot);
  memset(e, 0, sizeof *e);
}

const Tensor *exec_output(const Exec *e, int k) {
  return e->ref[e->p->graphs.v[e->graph].outputs.v[k].node];
}

/* f32 or f64 matmul of float operands through BLAS; 0 = not handled here. */
static void note_gemm(ExecStats *s, const Tensor *a, const Tensor *b, const Tensor *out, int ta, int tb, double sec) {
  int64_t M = out->shape[out->rank - 2], N = out->shape[out->rank - 1], K = a->shape[a->rank - 1 - ta];
  int64_t batch = out->n / (M * N > 0 ? M * N : 1);
  (void)b;
  s->gemm_flops += 2.0 * (double)M * (double)N * (double)K * (double)batch;
  s->gemm_seconds += sec;
  for (int i = 0; i < s->ngemm; i++) {
    GemmShape *g = &s->gemm[i];
    if (g->batch == batch && g->M == M && g->N == N && g->K == K && g->ta == ta && g->tb == tb) {
      g->count++;
      g->seconds += sec;
      return;
    }
  }
  if (s->ngemm < EXEC_MAX_GEMM_SHAPES) s->gemm[s->ngemm++] = (GemmShape){batch, M, N, K, ta, tb, 1, sec};
}

void exec_stats_add(ExecStats *a, const ExecStats *b) {
  for (int i = 0; i < 3; i++) a->seconds[i] += b->seconds[i];
  a->runs += b->runs;
  for (int i = 0; i < OP_COUNT; i++) {
    a->op_seconds[i] += b->op_seconds[i];
    a->op_count[i] += b->op_count[i];
  }
  a->gemm_flops += b->gemm_flops;
  a->gemm_seconds += b->gemm_seconds;
  a->jit_seconds += b->jit_seconds;
  a->jit_runs += b->jit_runs;
  a->hoist_runs += b->hoist_runs;
  a->hoist_hits += b->hoist_hits;
  a->xent_lse_reused += b->xent_lse_reused;
  for (int i = 0; i < b->ngemm; i++) {
    const GemmShape *g = &b->gemm[i];
    int j = 0;
    while (j < a->ngemm && !(a->gemm[j].batch == g->batch && a->gemm[j].M == g->M && a->gemm[j].N == g->N &&
                             a->gemm[j].K == g->K && a->gemm[j].ta == g->ta && a->gemm[j].tb == g->tb))
      j++;
    if (j < a->ngemm) {
      a->gemm[j].count += g->count;
      a->gemm[j].seconds += g->seconds;
    } else if (a->ngemm < EXEC_MAX_GEMM_SHAPES) {
      a->gemm[a->ngemm++] = *g;
    }
  }
}

static int try_blas(Exec *e, const IrNode *nd, const Tensor *const *ins, Tensor *out, InterpCx *cx, int *ok) {
  if (!e->use_blas || nd->op != OP_MATMUL || ins[0]->dt != cx->fdt || ins[1]->dt != cx->fdt) return 0;
  *ok = rt_matmul(ins[0], ins[1], (int)ir_get_i(nd, "ta"), (int)ir_get_i(nd, "tb"), out, cx->err, sizeof cx->err);
  return 1;
}

/* Runs node i by itself (BLAS, a fast kernel, or the interpreter). */
static int run_node(Exec *e, int i, const int64_t *symvals, const Tensor *input, const ParamStore *ps, InterpCx *cx) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  const IrNode *nd = &g->nodes.v[i];
  const Tensor *ins[16];
  const Tensor *src = NULL;
  if (nd->op == OP_INPUT) {
    src = input;
  } else if (nd->op == OP_PARAM) {
    src = rt_params_get(ps, nd->module, nd->param);
    if (!src || !src->data) {
      snprintf(cx->err, sizeof cx->err, "%%%d = param: this process holds no value for parameter %d of module %d", i,
               nd->param, nd->module);
      return 0;
    }
  }
  if (src && src->dt == (nd->type.dt == DT_I32 ? DT_I32 : cx->fdt)) {
    e->ref[i] = src; /* inputs are checked below, parameters have their declared shapes */
  } else {
    if (src) ins[0] = src;
    for (int k = 0; k < nd->nin && k < 16; k++) ins[k] = e->ref[nd->in[k]];
    int ok = 1;
    double t0 = mono_seconds();
    if (!try_blas(e, nd, ins, &e->vals[i], cx, &ok)) {
      FastLse *lse = e->lse_slot && e->lse_slot[i] >= 0 ? &e->lse[e->lse_slot[i]] : NULL;
      int64_t reused = lse ? lse->reused : 0;
      int r = e->use_fast && cx->fdt == DT_F32
                  ? fast_node_lse(e->p, g, i, symvals, ins, &e->vals[i], lse, cx->err, sizeof cx->err)
                  : -1;
      if (lse) e->stats.xent_lse_reused += lse->reused - reused;
      ok = r >= 0 ? r : interp_node(e->p, g, i, symvals, ins, &e->vals[i], cx);
    }
    if (!ok) return 0;
    e->ref[i] = &e->vals[i];
    if (nd->op == OP_MATMUL)
      note_gemm(&e->stats, ins[0], ins[1], e->ref[i], (int)ir_get_i(nd, "ta"), (int)ir_get_i(nd, "tb"), mono_seconds() - t0);
  }
  if (nd->op == OP_INPUT) { /* check the caller's shape against the declared type */
    const Tensor *t = e->ref[i];
    int bad = t->rank != nd->type.rank;
    for (int d = 0; !bad && d < t->rank; d++) bad = t->shape[d] != dim_eval(nd->type.d[d], symvals);
    if (bad) {
      char sh[96];
      snprintf(cx->err, sizeof cx->err, "input '%s' has shape %s, which does not match its declared type", nd->name,
               rt_shape_str(sh, sizeof sh, t->rank, t->shape));
      return 0;
    }
  }
  return 1;
}

/* Runs a compiled fusion group: its epilogue GEMM first (BLAS), then the kernel over buffers
 * of the group's external values and outputs. */
static int run_group(Exec *e, ExecGroup *eg, const int64_t *symvals, InterpCx *cx) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  const CgKernel *k = &eg->k;
  if (eg->hoist && !exec_hoist_run(e, eg->hoist, symvals, cx)) return 0;
  if (!k->fn) return 1; /* every member hoisted */
  if (eg->root >= 0 && !run_node(e, eg->root, symvals, NULL, NULL, cx)) return 0;
  void *bufs[CG_MAX_BUFS];
  int64_t shape_store[CG_MAX_BUFS][IR_MAX_RANK], dims[CG_MAX_DIMS];
  const int64_t *shapes[CG_MAX_BUFS];
  for (int b = 0; b < k->nbufs; b++) {
    const CgBufInfo *bi = &k->bufs[b];
    for (int d = 0; d < bi->type.rank; d++) shape_store[b][d] = dim_eval(bi->type.d[d], symvals);
    shapes[b] = shape_store[b];
    int node = bi->node;
    if (!bi->out) {
      const IrNode *nd = &g->nodes.v[node];
      /* a leading reshape member is read through its operand's memory */
      if (nd->group == g->nodes.v[eg->first].group && nd->op == OP_RESHAPE) node = nd->in[0];
      const Tensor *t = e->ref[node];
      if (!t || t->dt != bi->dt) {
        snprintf(cx->err, sizeof cx->err, "%%%d: fused kernel input %%%d is %s", eg->first, node, t ? "of another dtype" : "missing");
        return 0;
      }
      bufs[b] = t->data;
    } else {
      const IrNode *nd = &g->nodes.v[node];
      int64_t sh[IR_MAX_RANK];
      for (int d = 0; d < nd->type.rank; d++) sh[d] = dim_eval(nd->type.d[d], symvals);
      if (!rt_tensor_alloc_raw(&e->vals[node], bi->dt, nd->type.rank, sh)) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return 0;
      }
      e->ref[node] = &e->vals[node];
      bufs[b] = e->vals[node].data;
    }
  }
  CgRun run = {cx->seed, cx->step, cx->training};
  if (!cg_fill_dims(k, shapes, symvals, &run, dims, cx->err, sizeof cx->err)) return 0;
  exec_call_kernel(e->pool, k, bufs, dims);
  if (eg->root >= 0 && e->last_use[eg->root] < eg->first + eg->count) { /* the product is read only inside */
    rt_tensor_free(&e->vals[eg->root]);
    e->ref[eg->root] = NULL;
  }
  return 1;
}

static int is_summed_operand(const Exec *e, int m) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  int r = e->last_use[m]; /* its only reader */
  return r < g->nodes.n && e->summed_gemm[r] && g->nodes.v[r].in[0] == m;
}

/* reduce_sum(matmul(a, b, ta)) over the batch axes as one GEMM: C[K, N] = Aᵀ B with A, B the
 * operands viewed as [rows, K] and [rows, N] (row-major: the batch axes flatten for free). */
static int run_summed_gemm(Exec *e, int i, const int64_t *symvals, InterpCx *cx) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  const IrNode *r = &g->nodes.v[i], *m = &g->nodes.v[r->in[0]];
  const Tensor *a = e->ref[m->in[0]], *b = e->ref[m->in[1]];
  if (!a || !b || a->dt != DT_F32 || b->dt != DT_F32) {
    snprintf(cx->err, sizeof cx->err, "%%%d: summed matrix product: unexpected operands", i);
    return 0;
  }
  int64_t K = a->shape[a->rank - 1], N = b->shape[b->rank - 1], rows = K ? a->n / K : 0;
  int64_t sh[2] = {K, N};
  if ((N ? b->n / N : 0) != rows) {
    snprintf(cx->err, sizeof cx->err, "%%%d: summed matrix product: unexpected operands", i);
    return 0;
  }
  if (!rt_tensor_alloc_raw(&e->vals[i], DT_F32, 2, sh)) return snprintf(cx->err, sizeof cx->err, "out of memory"), 0;
  (void)symvals;
  double t0 = mono_seconds();
  rt_gemm_at_b(a->data, b->data, e->vals[i].data, rows, K, N);
  e->ref[i] = &e->vals[i];
  Tensor fake_out = e->vals[i];
  note_gemm(&e->stats, a, b, &fake_out, 1, 0, mono_seconds() - t0);
  return 1;
}

/* Frees the values owned here whose last reader is step s. */
static void free_dead(Exec *e, int s) {
  for (int o = e->die_first[s]; o >= 0; o = e->die_next[o])
    if (e->ref[o] == &e->vals[o]) {
      rt_tensor_free(&e->vals[o]);
      e->ref[o] = NULL;
    }
}

void exec_death_lists(const int *last_use, int n, int *die_first, int *die_next) {
  for (int i = 0; i < n; i++) die_first[i] = -1;
  for (int j = n - 1; j >= 0; j--)
    if (last_use[j] < n) die_next[j] = die_first[last_use[j]], die_first[last_use[j]] = j;
}

int exec_stray_values(const Exec *e) {
  int n = e->p->graphs.v[e->graph].nodes.n, stray = 0;
  for (int i = 0; i < n; i++) stray += e->ref[i] == &e->vals[i] && e->last_use[i] < n;
  return stray;
}

int exec_run(Exec *e, const int64_t *symvals, const Tensor *inputs, const ParamStore *ps, InterpCx *cx) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  int n = g->nodes.n, ninput = 0;
  exec_release(e);
  for (int k = 0; k < e->nlse; k++) e->lse[k].rows = 0; /* written again by this run's forward */
  double tprev = mono_seconds();
  for (int i = 0; i < n;) {
    const IrNode *nd = &g->nodes.v[i];
    int gi = e->group_at ? e->group_at[i] : -1, last = i;
    if (gi >= 0) {
      ExecGroup *eg = &e->groups[gi];
      if (!run_group(e, eg, symvals, cx)) goto fail;
      last = eg->first + eg->count - 1;
      e->stats.jit_runs++;
    } else if (e->summed_gemm[i]) {
      if (!run_summed_gemm(e, i, symvals, cx)) goto fail;
    } else if (nd->op == OP_MATMUL && i + 1 < n && is_summed_operand(e, i)) {
      /* computed by its reduce_sum */
    } else {
      if (!run_node(e, i, symvals, nd->op == OP_INPUT ? &inputs[ninput] : NULL, ps, cx)) goto fail;
      ninput += nd->op == OP_INPUT;
    }
    double tnow = mono_seconds();
    e->stats.seconds[e->forward[last] ? 0 : 1] += tnow - tprev;
    if (gi >= 0) {
      e->stats.jit_seconds += tnow - tprev;
    } else {
      Op as = e->summed_gemm[i] ? OP_MATMUL : nd->op; /* a weight gradient's GEMM counts as matmul */
      e->stats.op_seconds[as] += tnow - tprev;
      e->stats.op_count[as]++;
    }
    tprev = tnow;
    for (int k = i; k <= last; k++) free_dead(e, k);
    if (e->on_output)
      for (int k = i; k <= last; k++)
        for (int o = e->out_first[k]; o >= 0; o = e->out_next[o])
          if (e->ref[k]) e->on_output(e->on_output_user, o, e->ref[k]);
    i = last + 1;
  }
  e->stats.runs++;
  return 1;
fail:
  exec_release(e);
  return 0;
}
