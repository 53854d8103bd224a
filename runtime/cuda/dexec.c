/* dexec.c — the device executor's plan (dexec.h): which way each node runs, the compilation
 * of its kernels, and the executor's lifetime. The run loop is dexec_run.c's; the node kinds
 * themselves are dexec_ops.c's, dexec_copy.c's, dexec_attn.c's and dexec_linattn.c's. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dexec_internal.h"
#include "exec.h"

static const char *const kind_names[DN_KIND_COUNT] = {"none",   "input",   "param", "view",       "kernel",
                                                      "gemm",   "summed gemm", "copy", "gather", "scatter",
                                                      "attention", "linear attention", "cross-entropy", "host",
                                                      "folded copy", "written by its producer"};

const char *dexec_kind_name(DKind k) { return k < DN_KIND_COUNT ? kind_names[k] : "?"; }

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }

int dx_fail(DExec *e, int node, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (node >= 0) snprintf(e->err, sizeof e->err, "%%%d = %s: %s", node, op_info(G(e)->nodes.v[node].op)->name, msg);
  else snprintf(e->err, sizeof e->err, "%s", msg);
  return 0;
}

int dx_dev_fail(DExec *e, int node) { return dx_fail(e, node, "%s", e->dev->L.err); }

int dx_shape(const DExec *e, int node, const int64_t *sym, int64_t *shape) {
  const IrType *t = &G(e)->nodes.v[node].type;
  for (int d = 0; d < t->rank; d++) shape[d] = dim_eval(t->d[d], sym);
  return t->rank;
}

int64_t dx_numel(const DExec *e, int node, const int64_t *sym) {
  int64_t s[IR_MAX_RANK];
  int r = dx_shape(e, node, sym, s);
  return rt_numel(r, s);
}

int dx_alloc(DExec *e, int node, const int64_t *sym) {
  int64_t n = dx_numel(e, node, sym);
  if (n < 0) return dx_fail(e, node, "bad shape");
  uint64_t bytes = (uint64_t)n * (uint64_t)dx_esize(e, node);
  if (!dev_alloc(e->dev, bytes, &e->val[node])) return dx_dev_fail(e, node);
  dx_dtype_note(e, node, bytes);
  e->mem[node] = e->val[node];
  e->base[node] = node;
  e->refs[node] = 1;
  return 1;
}

/* ---- planning ---------------------------------------------------------------------------------- */

/* forced to the host by MAMC_CUDA_HOST_OPS=op,op */
static int forced_host(Op op) {
  const char *env = getenv("MAMC_CUDA_HOST_OPS");
  if (!env) return 0;
  const char *name = op_info(op)->name;
  size_t n = strlen(name);
  for (const char *p = env; (p = strstr(p, name)); p += n)
    if ((p == env || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
  return 0;
}

static int lowerable_alone(Op op) {
  unsigned f = op_info(op)->flags;
  return (f & (F_EW | F_NORM)) || op == OP_REDUCE_SUM || op == OP_REDUCE_MEAN || op == OP_REDUCE_MAX ||
         op == OP_CONST || op == OP_IOTA;
}

/* reduce_sum over exactly the leading batch axes of a matmul {ta} read by nothing else: one
 * GEMM over the flattened rows (runtime/exec.c's find_summed_gemms, same rule) */
static void find_summed(DExec *e, const int *uses) {
  const IrGraph *g = G(e);
  for (int i = 0; i < e->n; i++) {
    const IrNode *r = &g->nodes.v[i];
    if (r->op != OP_REDUCE_SUM || r->group >= 0 || ir_get_i(r, "keepdim") || e->kind[i] == DN_HOST) continue;
    const IrNode *m = &g->nodes.v[r->in[0]];
    if (m->op != OP_MATMUL || m->group >= 0 || uses[r->in[0]] != 1 || !ir_get_i(m, "ta") || ir_get_i(m, "tb")) continue;
    const IrType *a = &g->nodes.v[m->in[0]].type, *b = &g->nodes.v[m->in[1]].type;
    int nb = m->type.rank - 2, ok = nb >= 1 && a->rank == m->type.rank && b->rank == m->type.rank;
    for (int d = 0; ok && d < nb; d++) ok = dim_eq(a->d[d], b->d[d]) && !dim_eq(a->d[d], dim_const(1));
    const AttrVal *ax = ir_get(r, "axes");
    ok = ok && ax->n == nb && a->dt == DT_F32 && b->dt == DT_F32;
    for (int d = 0; ok && d < nb; d++) ok = ax->ints[d] == d;
    if (!ok) continue;
    e->summed[i] = 1;
    e->kind[i] = DN_SUMMED;
    e->kind[r->in[0]] = DN_NONE;
    for (int k = 0; k < 2; k++)
      if (e->last_use[m->in[k]] < i) e->last_use[m->in[k]] = i;
  }
}

/* A summed GEMM X^T dY (a weight gradient) and a column sum of the same dY over the same rows
 * (the bias gradient, planned alone, f32, stored f32 like the GEMM's result) become one
 * cuBLASLt call with the BGRAD epilogue: the sum's node turns DN_INTO, written by the GEMM. A sum
 * before the GEMM in node order may only be read after it (its buffer is written there; the
 * outputs are streamed there: dexec_run.c). MAMC_CUDA_BGRAD=0: never. */
static void find_bgrad(DExec *e) {
  const IrGraph *g = G(e);
  const char *env = getenv("MAMC_CUDA_BGRAD");
  if ((env && strcmp(env, "0") == 0) || (env = getenv("MAMC_CUDA_EPILOGUE"), env && strcmp(env, "0") == 0)) return;
  for (int i = 0; i < e->n; i++) {
    if (!e->summed[i] || e->st[i]) continue;
    const IrNode *m = &g->nodes.v[g->nodes.v[i].in[0]];
    int dy = m->in[1], r = g->nodes.v[dy].type.rank;
    for (int j = 0; j < e->n && e->bgrad[i] < 0; j++) {
      const IrNode *s = &g->nodes.v[j];
      if (s->op != OP_REDUCE_SUM || s->in[0] != dy || e->kind[j] != DN_GROUP || e->grp[j] < 0 || !e->groups[e->grp[j]].single ||
          e->st[j] || ir_get_i(s, "keepdim") || j == i)
        continue;
      const AttrVal *ax = ir_get(s, "axes");
      int ok = ax->n == r - 1;
      for (int d = 0; ok && d < ax->n; d++) ok = ax->ints[d] == d;
      for (int k = 0; ok && j < i && k < e->n; k++) /* read only after the GEMM */
        for (int q = 0; q < g->nodes.v[k].nin; q++)
          if (g->nodes.v[k].in[q] == j && k <= i) ok = 0;
      int taken = 0;
      for (int k = 0; ok && k < i; k++) taken |= e->bgrad[k] == j;
      if (!ok || taken) continue;
      e->bgrad[i] = j;
      e->kind[j] = DN_INTO;
    }
  }
}

static int add_group(DExec *e, int first, int count, int root) {
  DGroup *gr = &e->groups[e->ngroups];
  memset(gr, 0, sizeof *gr);
  gr->first = first;
  gr->count = count;
  gr->root = root;
  gr->resid = -1;
  return e->ngroups++;
}

/* Compiles the groups [from, ngroups); a group that fails has its nodes planned alone
 * (marked DN_NONE here; plan_alone then takes them). */
static int compile_groups(DExec *e, int from, int *retry) {
  const IrGraph *g = G(e);
  int n = e->ngroups - from;
  if (n <= 0) return 1;
  int **mem = calloc((size_t)n, sizeof *mem), *nm = calloc((size_t)n, sizeof *nm);
  int *store = calloc((size_t)e->n + 1, sizeof *store);
  char *ok = calloc((size_t)n, 1), (*why)[256] = calloc((size_t)n, sizeof *why);
  DevCg *out = calloc((size_t)n, sizeof *out);
  int res = mem && nm && store && ok && why && out;
  for (int k = 0, used = 0; res && k < n; k++) {
    DGroup *gr = &e->groups[from + k];
    mem[k] = store + used;
    for (int j = gr->first; j < gr->first + gr->count && !gr->norm; j++)
      if (j != gr->root) mem[k][nm[k]++] = j;
    used += nm[k];
  }
  if (res) res = dev_cg_compile(e->dev, e->p, g, n, (const int *const *)mem, nm, e->in16, e->st, out, ok, why);
  if (!res) dx_fail(e, -1, "compiling the fused kernels of @%s: %s", g->task, e->dev->L.err);
  int debug = getenv("MAMC_DEBUG_CUDA") != NULL;
  for (int k = 0; res && k < n; k++) {
    DGroup *gr = &e->groups[from + k];
    if (gr->norm) continue;
    if (ok[k] && nm[k] > 0) {
      gr->k = out[k];
      continue;
    }
    if (debug) fprintf(stderr, "mamc: cuda: group at %%%d runs node by node: %s\n", gr->first, why[k]);
    for (int j = gr->first; j < gr->first + gr->count; j++) retry[j] = 1;
  }
  free(mem);
  free(nm);
  free(store);
  free(ok);
  free(why);
  free(out);
  return res;
}

/* the kind of a node run by itself; lowerable ops become single-node groups */
static void plan_alone(DExec *e, int i) {
  const IrGraph *g = G(e);
  const IrNode *nd = &g->nodes.v[i];
  const char *why = NULL;
  if (nd->op == OP_INPUT) e->kind[i] = DN_INPUT;
  else if (nd->op == OP_PARAM) e->kind[i] = DN_PARAM;
  else if (nd->op == OP_RESHAPE || (op_info(nd->op)->flags & F_COLL)) e->kind[i] = DN_VIEW;
  else if (nd->type.dt == DT_F64 || forced_host(nd->op)) e->kind[i] = DN_HOST;
  else if (nd->op == OP_GROUPNORM) { /* codegen cannot split the last axis: k_norm_fwd{,_small} */
    int gi = add_group(e, i, 1, -1);
    e->groups[gi].single = 1;
    if (dx_is_norm_group(e, &e->groups[gi])) {
      e->kind[i] = DN_GROUP;
      e->grp[i] = gi;
      e->groups[gi].norm = 1;
    } else {
      e->ngroups--;
      e->kind[i] = DN_HOST;
      why = "non-f32 operands, or channels not divisible into the groups";
    }
  } else if (lowerable_alone(nd->op)) {
    e->kind[i] = DN_GROUP;
    e->grp[i] = add_group(e, i, 1, -1);
    e->groups[e->grp[i]].single = 1;
  } else {
    e->kind[i] = dx_plan_node(e, i, &why);
  }
  if (e->kind[i] == DN_HOST && getenv("MAMC_DEBUG_CUDA"))
    fprintf(stderr, "mamc: cuda: %%%d = %s runs on the host%s%s\n", i, op_info(nd->op)->name, why ? ": " : "",
            why ? why : "");
}

/* Group gi (a fusion group with a matmul root) as a product with a cuBLASLt epilogue where
 * dx_epilogue finds one; members after those the product computes (the tail: a gelu's
 * derivative in a training graph) become a group of their own, run after it. The fusion pass
 * made them one group; only here are they two (so MAMC_CUDA_EPILOGUE=0 leaves them one). */
static void split_epilogue(DExec *e, int gi) {
  DGroup *gr = &e->groups[gi];
  int cover = gr->count;
  gr->epi = dx_epilogue(e, gr, &gr->bias, &cover, &gr->resid);
  if (!gr->epi || cover >= gr->count) return;
  int first = gr->first + cover, count = gr->count - cover;
  gr->count = cover;
  int ti = add_group(e, first, count, -1);
  e->kind[first] = DN_GROUP;
  e->grp[first] = ti;
}

/* Node i is a sum over leading axes (a column sum: a bias's or a norm gain's gradient) outside
 * any fusion group that find_summed will not take (its operand is no matmul {ta}) */
static int column_sum(const DExec *e, int i) {
  const IrGraph *g = G(e);
  const IrNode *r = &g->nodes.v[i], *x = &g->nodes.v[r->in[0]];
  if (r->op != OP_REDUCE_SUM || r->group >= 0 || r->type.dt != DT_F32 || forced_host(r->op)) return 0;
  if (x->op == OP_MATMUL && ir_get_i(x, "ta")) return 0;
  const AttrVal *ax = ir_get(r, "axes");
  for (int k = 0; k < ax->n; k++)
    if (ax->ints[k] == x->type.rank - 1 || ax->ints[k] == -1) return 0;
  return x->type.rank >= 2;
}

/* Column sums j = i+1, ... that can run in i's kernel: the same operand dims, axes and keepdim,
 * and reading none of i .. j-1. One launch then sums several tensors' columns (each its own
 * accumulator and output): a norm's gain and bias gradients and the residual's bias gradient
 * after it. Returns the end of the run. */
static int column_run(const DExec *e, int i) {
  const IrGraph *g = G(e);
  const IrNode *a = &g->nodes.v[i];
  const IrType *ta = &g->nodes.v[a->in[0]].type;
  int j = i + 1;
  for (; j < e->n && column_sum(e, j); j++) {
    const IrNode *b = &g->nodes.v[j];
    const IrType *tb = &g->nodes.v[b->in[0]].type;
    const AttrVal *xa = ir_get(a, "axes"), *xb = ir_get(b, "axes");
    int same = b->in[0] < i && tb->rank == ta->rank && xa->n == xb->n && ir_get_i(a, "keepdim") == ir_get_i(b, "keepdim");
    for (int d = 0; same && d < ta->rank; d++) same = dim_eq(ta->d[d], tb->d[d]);
    for (int k = 0; same && k < xa->n; k++) same = xa->ints[k] == xb->ints[k];
    if (!same) break;
  }
  return j;
}

static int plan(DExec *e) {
  const IrGraph *g = G(e);
  int n = e->n;
  int *retry = calloc((size_t)n + 1, sizeof *retry);
  if (!retry) return dx_fail(e, -1, "out of memory");
  /* fusion groups as passes/fusion.c marked them: consecutive nodes of one group id */
  for (int i = 0; i < n;) {
    int gid = g->nodes.v[i].group, j = i;
    if (gid < 0 && column_sum(e, i) && (j = column_run(e, i)) > i + 1) { /* several column sums, one kernel */
      int gi = add_group(e, i, j - i, -1);
      for (int k = i; k < j; k++) e->kind[k] = DN_NONE;
      e->kind[i] = DN_GROUP;
      e->grp[i] = gi;
      i = j;
      continue;
    }
    if (gid < 0) {
      plan_alone(e, i++);
      continue;
    }
    while (j < n && g->nodes.v[j].group == gid) j++;
    int root = -1;
    for (int k = i; k < j; k++)
      if (g->nodes.v[k].op == OP_MATMUL) root = k;
    int gi = add_group(e, i, j - i, root);
    for (int k = i; k < j; k++) e->kind[k] = DN_NONE;
    e->kind[i] = DN_GROUP;
    e->grp[i] = gi;
    /* bf16 activations: {[add], norm} groups become generated kernels, which read and write bf16 */
    if (root < 0 && !dx_act16_on(e) && dx_is_norm_group(e, &e->groups[gi]) && !forced_host(g->nodes.v[j - 1].op))
      e->groups[gi].norm = 1;
    if (root >= 0) split_epilogue(e, gi);
    i = j;
  }
  int ok = dx_dtype_plan(e);
  for (int k = 0; ok && k < e->ngroups; k++) { /* cuBLASLt writes GELU_AUX's aux in D's dtype */
    DGroup *gr = &e->groups[k];
    if (gr->epi == DEV_EPI_BIAS_GELU_AUX && e->st[gr->root + 1] != e->st[gr->root + 2]) gr->epi = DEV_EPI_NONE;
    if (gr->epi == DEV_EPI_DGELU && e->st[gr->bias] != e->st[gr->root + 1]) gr->epi = DEV_EPI_NONE; /* aux in D's dtype */
    if (gr->resid >= 0 && e->st[gr->resid] != e->st[gr->first + gr->count - 1]) /* R in D's dtype: else all generated */
      gr->resid = -1, gr->epi = DEV_EPI_NONE;
  }
  ok = ok && compile_groups(e, 0, retry);
  int before = e->ngroups;
  for (int i = 0; ok && i < n; i++) { /* what failed: members of a fused group alone; a single node on the host */
    if (!retry[i]) continue;
    int single = e->grp[i] >= 0 && e->groups[e->grp[i]].single;
    retry[i] = 0;
    e->grp[i] = -1;
    if (single) e->kind[i] = DN_HOST;
    else plan_alone(e, i);
  }
  if (ok) ok = compile_groups(e, before, retry);
  for (int i = 0; ok && i < n; i++)
    if (retry[i]) e->kind[i] = DN_HOST, e->grp[i] = -1;
  free(retry);
  return ok;
}

static int init(DExec *e, Dev *dev, const IrProgram *p, int graph, int bf16, int no_act16) {
  memset(e, 0, sizeof *e);
  e->no_act16 = no_act16;
  const IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n;
  e->dev = dev;
  e->p = p;
  e->graph = graph;
  e->bf16 = bf16;
  e->n = n;
  size_t N = (size_t)n + 1;
  e->kind = calloc(N, sizeof *e->kind);
  e->grp = malloc(N * sizeof *e->grp);
  e->groups = calloc(2 * N, sizeof *e->groups); /* fusion groups, then single nodes */
  e->last_use = calloc(N, sizeof *e->last_use);
  e->forward = calloc(N, 1);
  e->summed = calloc(N, 1);
  e->bgrad = malloc(N * sizeof *e->bgrad);
  e->bgrad_off = calloc(N, 1);
  e->base = malloc(N * sizeof *e->base);
  e->refs = calloc(N, sizeof *e->refs);
  e->val = calloc(N, sizeof *e->val);
  e->aio = calloc(N, sizeof *e->aio);
  e->host = malloc(N * sizeof *e->host);
  e->sample[0] = malloc(((size_t)p->syms.n + 1) * sizeof(int64_t));
  e->sample[1] = malloc(((size_t)p->syms.n + 1) * sizeof(int64_t));
  e->die_first = malloc(N * sizeof *e->die_first);
  e->die_next = malloc(N * sizeof *e->die_next);
  e->mem = calloc(N, sizeof *e->mem);
  e->out_first = malloc(N * sizeof *e->out_first);
  e->out_next = malloc(((size_t)g->outputs.n + 1) * sizeof *e->out_next);
  e->st = calloc(N, 1);
  e->in16 = calloc(N, 1);
  int *uses = calloc(N, sizeof *uses);
  if (!e->kind || !e->grp || !e->groups || !e->last_use || !e->forward || !e->summed || !e->bgrad || !e->bgrad_off ||
      !e->base || !e->refs || !e->host || !e->sample[0] || !e->sample[1] ||
      !e->val || !e->aio || !e->die_first || !e->die_next || !e->mem || !e->out_first || !e->out_next || !e->st || !e->in16 || !uses) {
    free(uses);
    dexec_free(e);
    return dx_fail(e, -1, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    DAttnIo *a = &e->aio[i];
    a->into[0] = a->into[1] = a->into[2] = a->fwd = a->lse_last = a->kv = -1;
  }
  for (int k = 0; k < p->syms.n; k++) e->sample[0][k] = 1009, e->sample[1][k] = 2003;
  for (int i = 0; i < n; i++) {
    e->host[i] = -1;
    e->grp[i] = -1;
    e->bgrad[i] = -1;
    e->base[i] = -1;
    e->out_first[i] = -1;
    e->last_use[i] = i;
    e->ninputs += g->nodes.v[i].op == OP_INPUT;
    for (int k = 0; k < g->nodes.v[i].nin; k++) {
      e->last_use[g->nodes.v[i].in[k]] = i;
      uses[g->nodes.v[i].in[k]]++;
    }
  }
  for (int k = g->outputs.n - 1; k >= 0; k--) {
    int node = g->outputs.v[k].node;
    e->last_use[node] = n;
    uses[node]++;
    e->out_next[k] = e->out_first[node];
    e->out_first[node] = k;
  }
  int loss = -1;
  for (int k = 0; k < g->outputs.n; k++)
    if (strcmp(g->outputs.v[k].name, "loss") == 0) loss = g->outputs.v[k].node;
  if (loss < 0) memset(e->forward, 1, (size_t)n);
  else e->forward[loss] = 1;
  for (int i = n - 1; i >= 0; i--)
    if (e->forward[i])
      for (int k = 0; k < g->nodes.v[i].nin; k++) e->forward[g->nodes.v[i].in[k]] = 1;
  e->stage = calloc((size_t)e->ninputs + 1, sizeof *e->stage);
  e->stage_cap = calloc((size_t)e->ninputs + 1, sizeof *e->stage_cap);
  int ok = e->stage && e->stage_cap && plan(e);
  if (ok) find_summed(e, uses);
  free(uses);
  if (ok && !dx_dtype_check(e)) { /* groups refused by codegen broke a bf16 value's producer or reader */
    if (getenv("MAMC_DEBUG_CUDA")) fprintf(stderr, "mamc: cuda: @%s: planned again without bf16 activations\n", g->task);
    dexec_free(e);
    return init(e, dev, p, graph, bf16, 1);
  }
  if (ok) find_bgrad(e); /* after the dtype check: its DN_INTO sums are no reader kind there */
  if (ok) dx_fold_copies(e);
  if (ok) dx_fold_attn_io(e);
  if (ok) dx_pair_xent(e);
  if (ok) dx_place_concats(e);
  if (ok) exec_death_lists(e->last_use, n, e->die_first, e->die_next); /* after every change to last_use */
  if (ok && !dev->emu && !dev_load_modules(dev)) ok = dx_fail(e, -1, "%s", dev->L.err);
  if (!ok) {
    char keep[1024];
    memcpy(keep, e->err, sizeof keep);
    dexec_free(e);
    memcpy(e->err, keep, sizeof keep);
    return 0;
  }
  e->capturable = 1;
  e->debug_launches = getenv("MAMC_DEBUG_CUDA_LAUNCHES") && strcmp(getenv("MAMC_DEBUG_CUDA_LAUNCHES"), "0") != 0;
  e->stats.values16 = dx_dtype_count(e);
  for (int i = 0; i < n; i++) {
    e->stats.kind_count[e->kind[i]]++;
    if (e->kind[i] == DN_HOST || g->nodes.v[i].op == OP_DROPOUT) e->capturable = 0;
  }
  return 1;
}

void dexec_on_output(DExec *e, DExecOutputFn fn, void *user) {
  e->on_output = fn;
  e->on_output_user = user;
}

void dexec_release(DExec *e) {
  if (!e->val) return;
  for (int j = 0; j < e->n; j++) {
    if (e->mem[j]) dev_free(e->dev, e->mem[j]);
    e->mem[j] = 0;
    e->val[j] = 0;
    e->base[j] = -1;
    e->refs[j] = 0;
    if (e->aio && e->aio[j].lse) dev_free(e->dev, e->aio[j].lse);
    if (e->aio) e->aio[j].lse = 0;
  }
}

void dexec_free(DExec *e) {
  dexec_release(e);
  dx_prof_free(e);
  for (int i = 0; i < e->ninputs && e->stage; i++) dev_host_free(e->dev, e->stage[i]);
  free(e->stage);
  free(e->stage_cap);
  free(e->kind);
  free(e->grp);
  free(e->groups);
  free(e->last_use);
  free(e->forward);
  free(e->summed);
  free(e->bgrad);
  free(e->bgrad_off);
  free(e->base);
  free(e->refs);
  free(e->val);
  free(e->aio);
  free(e->host);
  free(e->sample[0]);
  free(e->sample[1]);
  free(e->die_first);
  free(e->die_next);
  free(e->mem);
  free(e->out_first);
  free(e->out_next);
  free(e->st);
  free(e->in16);
  Dev *dev = e->dev;
  memset(e, 0, sizeof *e);
  e->dev = dev;
}

void dexec_summary(const DExec *e, StrBuf *b) {
  int first = 1;
  for (int k = DN_INPUT; k < DN_KIND_COUNT; k++) {
    if (!e->stats.kind_count[k]) continue;
    sb_printf(b, "%s%s %lld", first ? "" : ", ", dexec_kind_name((DKind)k), (long long)e->stats.kind_count[k]);
    first = 0;
  }
  int fused = 0, norm = 0, epi = 0, aux = 0, resid = 0;
  for (int k = 0; k < e->ngroups; k++) {
    fused += e->groups[k].count > 1 && !e->groups[k].norm;
    norm += e->groups[k].norm;
    epi += dx_lt_group(&e->groups[k]);
    aux += e->groups[k].epi == DEV_EPI_BIAS_GELU_AUX && !e->groups[k].epi_off;
    resid += e->groups[k].resid >= 0 && !e->groups[k].epi_off;
  }
  sb_printf(b, " (fused groups %d, hand-written norm groups %d, GEMM epilogues %d, %d of them gelu + aux, %d adding a matrix)",
            fused, norm, epi, aux, resid);
  if (e->stats.values16 || e->bf16)
    sb_printf(b, "; bf16 activations: %lld values%s", (long long)e->stats.values16, e->no_act16 ? " (refused: planned f32)" : "");
  int64_t nl = dexec_launches(e);
  if (e->stats.runs && nl) {
    DevQueued all = {0};
    sb_printf(b, "; last run: %lld launches (", (long long)nl);
    first = 1;
    for (int k = 0; k < DN_KIND_COUNT; k++) {
      const DevQueued *q = &e->stats.launches[k];
      if (!dev_queued_total(q)) continue;
      sb_printf(b, "%s%s %lld", first ? "" : ", ", dexec_kind_name((DKind)k), (long long)dev_queued_total(q));
      all.kernels += q->kernels, all.generated += q->generated, all.gemms += q->gemms, all.memops += q->memops;
      first = 0;
    }
    sb_printf(b, "; hand-written kernels %lld, generated %lld, products %lld, copies and memsets %lld)", (long long)all.kernels,
              (long long)all.generated, (long long)all.gemms, (long long)all.memops);
  }
  if (e->stats.runs && (e->stats.act_bytes16 || e->bf16))
    sb_printf(b, "; last run's activations %.2f MiB bf16 + %.2f MiB f32", (double)e->stats.act_bytes16 / 1048576.0,
              (double)e->stats.act_bytes32 / 1048576.0);
}

int64_t dexec_launches(const DExec *e) {
  int64_t n = 0;
  for (int k = 0; k < DN_KIND_COUNT; k++) n += dev_queued_total(&e->stats.launches[k]);
  return n;
}

int dexec_init(DExec *e, Dev *dev, const IrProgram *p, int graph, int bf16) { return init(e, dev, p, graph, bf16, 0); }
