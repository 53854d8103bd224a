/* dexec_ops.c — each node kind of the device executor (dexec.h), on device buffers: the
 * matrix products' descriptors, gather and scatter, cross-entropy and the hand-written norms
 * (copies: dexec_copy.c; attention: dexec_attn.c, dexec_linattn.c; the host fallback:
 * dexec_run.c). Shapes are evaluated per run; every kernel's
 * argument block is kargs.h's. Values stored as bf16 (e->st, dexec_dtype.c) reach products
 * (a16/b16/c16), copies (k_copy_nd16; k_copy_cvt where operand and result differ: copies
 * are where a value changes storage dtype) and cross-entropy's logits (k_xent_rows16; its
 * gradient's logits and result, k_xent_grad16); the
 * norm and gather kernels only ever see f32. */
#include <math.h>
#include <stdlib.h>

#include "dexec_internal.h"
#include "exec.h" /* exec_xent_forward */
#include "linattn.h"

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }
static const IrNode *N(const DExec *e, int i) { return &G(e)->nodes.v[i]; }
static DType dt_of(const DExec *e, int i) { return N(e, i)->type.dt; }
static int is4(DType t) { return t == DT_F32 || t == DT_I32; }

int dx_launch(DExec *e, int node, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz,
              unsigned block, unsigned smem, const void *args) {
  return dev_launch(e->dev, mod, name, gx, gy, gz, block, smem, args) || dx_dev_fail(e, node);
}

int dx_scratch(DExec *e, int node, int64_t floats, DPtr *p, int zero) {
  if (!dev_alloc(e->dev, (uint64_t)(floats > 0 ? floats : 1) * 4, p)) return dx_dev_fail(e, node);
  return !zero || dev_zero(e->dev, *p, (uint64_t)(floats > 0 ? floats : 1) * 4) || dx_dev_fail(e, node);
}

/* ---- planning --------------------------------------------------------------------------------- */

/* softmax_attention and softmax_attention_grad: f32 operands (dexec_attn.c runs the flash
 * kernels where they have the head dim, D = 32, 64, 128 forward, 32, 64 backward, with Dv = D,
 * else the products' form) */
static int attn_ok(const DExec *e, int i, const char **why) {
  const IrNode *n = N(e, i);
  for (int k = 0; k < n->nin; k++)
    if (dt_of(e, n->in[k]) != DT_F32) return *why = "non-f32 operands", 0;
  return 1;
}

static int linattn_ok(const DExec *e, int i, const char **why) {
  const IrNode *n = N(e, i);
  LinAttn la;
  char err[256];
  if (!ir_linattn_read(n, &la, err, sizeof err)) return *why = "unreadable", 0;
  if (la.running) return *why = "norm = running", 0;
  if (la.state >= 0) return *why = "a carried state (decoding)", 0;
  if (n->op == OP_LINEAR_ATTENTION_GRAD && la.wrt_state) return *why = "gradient of the state", 0;
  if (la.gate == LA_GATE_LEARNED && !la.causal) return *why = "learned gates without causal", 0;
  int q = la.q >= 0 ? n->in[la.q] : n->in[la.k];
  const IrType *qt = &N(e, q)->type, *kt = &N(e, n->in[la.k])->type;
  if (!dim_eq(qt->d[2], kt->d[2])) return *why = "query and key lengths differ", 0;
  Dim m = la.proj >= 0 ? N(e, n->in[la.proj])->type.d[1] : qt->d[3];
  if (!dim_is_const(m) || m.add > 128) return *why = "more than 128 features", 0;
  for (int k = 0; k < n->nin; k++)
    if (dt_of(e, n->in[k]) != DT_F32) return *why = "non-f32 operands", 0;
  return 1;
}

DKind dx_plan_node(const DExec *e, int i, const char **why) {
  const IrNode *n = N(e, i);
  const char *w = NULL;
  DKind k = DN_HOST;
  switch (n->op) {
  case OP_MATMUL:
    k = dt_of(e, n->in[0]) == DT_F32 && dt_of(e, n->in[1]) == DT_F32 ? DN_GEMM : DN_HOST;
    w = "non-f32 operands";
    break;
  case OP_TRANSPOSE:
  case OP_SLICE:
  case OP_EXPAND:
  case OP_PAD:
  case OP_CONCAT:
    k = is4(n->type.dt) ? DN_COPY : DN_HOST;
    w = "8-byte elements";
    break;
  case OP_GATHER: k = is4(n->type.dt) && dt_of(e, n->in[1]) == DT_I32 ? DN_GATHER : DN_HOST; break;
  case OP_SCATTER_ADD: k = n->type.dt == DT_F32 && dt_of(e, n->in[0]) == DT_I32 ? DN_SCATTER : DN_HOST; break;
  case OP_SOFTMAX_ATTENTION:
  case OP_SOFTMAX_ATTENTION_GRAD: k = attn_ok(e, i, &w) ? DN_ATTN : DN_HOST; break;
  case OP_LINEAR_ATTENTION:
  case OP_LINEAR_ATTENTION_GRAD:
    k = linattn_ok(e, i, &w) && dev_has_kernel(e->dev, "k_la_out") ? DN_LINATTN : DN_HOST;
    if (k == DN_HOST && !w) w = "no host emulation of the chunked kernels";
    break;
  case OP_CROSS_ENTROPY:
  case OP_CROSS_ENTROPY_GRAD:
    k = dt_of(e, n->in[0]) == DT_F32 && dt_of(e, n->in[1]) == DT_I32 ? DN_XENT : DN_HOST;
    w = "non-f32 logits";
    break;
  default: w = "no device kernel for this op"; break;
  }
  if (why) *why = k == DN_HOST ? w : NULL;
  return k;
}

/* groupnorm by k_norm_fwd{,_small}: f32, the last dim a constant multiple of groups (a
 * symbolic one is checked per run) */
static int groupnorm_ok(const IrNode *nm) {
  int64_t G = ir_get_i(nm, "groups");
  Dim C = nm->type.d[nm->type.rank - 1];
  return nm->type.rank >= 1 && G >= 1 && (!dim_is_const(C) || (C.add > 0 && C.add % G == 0));
}

int dx_is_norm_group(const DExec *e, const DGroup *g) {
  if (g->count < 1 || g->count > 2) return 0;
  const IrNode *nm = N(e, g->first + g->count - 1);
  if (nm->op == OP_GROUPNORM) { /* alone (the fusion pass never groups it) */
    if (g->count != 1 || nm->type.dt != DT_F32 || !groupnorm_ok(nm)) return 0;
    for (int k = 0; k < nm->nin; k++)
      if (dt_of(e, nm->in[k]) != DT_F32) return 0;
    return 1;
  }
  if ((nm->op != OP_LAYERNORM && nm->op != OP_RMSNORM) || nm->type.dt != DT_F32) return 0;
  for (int k = 0; k < nm->nin; k++)
    if (dt_of(e, nm->in[k]) != DT_F32) return 0;
  if (g->count == 1) return 1;
  const IrNode *ad = N(e, g->first);
  if (ad->op != OP_ADD || nm->in[0] != g->first) return 0;
  for (int k = 0; k < 2; k++) {
    const IrType *t = &N(e, ad->in[k])->type;
    if (t->dt != DT_F32 || t->rank != nm->type.rank) return 0;
    for (int d = 0; d < t->rank; d++)
      if (!dim_eq(t->d[d], nm->type.d[d])) return 0;
  }
  return 1;
}

/* ---- matrix products ------------------------------------------------------------------------------ */

/* {root, gelu_grad(x, root)}: the product times gelu'(x) in one cuBLASLt call (DGELU), x read
 * as its aux input: x outside the group, of the product's dims, the product read by the
 * gelu_grad alone. *aux gets x (DGroup.bias holds it). Whether x is stored in the result's
 * dtype (cuBLASLt reads the aux in D's) is checked after dtype planning (dexec.c); a folded x,
 * which has no buffer, at run time. MAMC_CUDA_DGELU=0: never. */
static int dgelu_epilogue(const DExec *e, const DGroup *g, int *aux, int *cover) {
  const char *env = getenv("MAMC_CUDA_DGELU");
  int root = g->root;
  const IrNode *m = N(e, root), *gg = N(e, root + 1);
  if ((env && strcmp(env, "0") == 0) || gg->in[1] != root || gg->in[0] == root || gg->in[0] >= g->first) return DEV_EPI_NONE;
  const IrType *mt = &m->type, *xt = &N(e, gg->in[0])->type;
  if (mt->dt != DT_F32 || xt->dt != DT_F32 || gg->type.dt != DT_F32 || xt->rank != mt->rank || gg->type.rank != mt->rank)
    return DEV_EPI_NONE;
  for (int d = 0; d < mt->rank; d++)
    if (!dim_eq(xt->d[d], mt->d[d]) || !dim_eq(gg->type.d[d], mt->d[d])) return DEV_EPI_NONE;
  Dim n = mt->d[mt->rank - 1];
  if (e->last_use[root] > root + 1 || (dim_is_const(n) && n.add % 8)) return DEV_EPI_NONE; /* cuBLASLt's aux ld */
  *aux = gg->in[0];
  *cover = 2;
  return DEV_EPI_DGELU;
}

/* The node that add node `add` adds to v (add(v, x) or add(x, v)), where it has the add's dims,
 * f32, and comes from before the group (cuBLASLt's C: DevGemm.R); -1 otherwise or with
 * MAMC_CUDA_RESID=0 */
static int full_addend(const DExec *e, const DGroup *g, int add, int v) {
  const char *env = getenv("MAMC_CUDA_RESID");
  const IrNode *ad = N(e, add);
  if ((env && strcmp(env, "0") == 0) || ad->op != OP_ADD || ad->nin != 2 || ad->type.dt != DT_F32) return -1;
  int x = ad->in[0] == v ? ad->in[1] : ad->in[1] == v ? ad->in[0] : -1;
  if (x < 0 || x == v || x >= g->first) return -1;
  const IrType *xt = &N(e, x)->type;
  if (xt->dt != DT_F32 || xt->rank != ad->type.rank) return -1;
  for (int d = 0; d < xt->rank; d++)
    if (!dim_eq(xt->d[d], ad->type.d[d])) return -1;
  return x;
}

/* The group's members from the root: root, add(root, bias[N]) [, gelu | relu of the add], then
 * the rest (the tail). Where the add x is read after the group (a training graph: gelu_grad(x,
 * dy) in the backward, or with gelu {bwd: composed} the pieces of its derivative the fusion pass
 * puts into this group as the tail) the product writes gelu(x) and x (GELU_AUX_BIAS's aux) and a
 * tail runs as a kernel of its own. ReLU is never split so: RELU_AUX_BIAS keeps a bitmask, not
 * the pre-activation its readers want. {root, add(root, R)} and {root, add bias, add(that, R)},
 * R a full_addend, take R as cuBLASLt's C (*resid). */
int dx_epilogue(const DExec *e, const DGroup *g, int *bias, int *cover, int *resid) {
  const char *env = getenv("MAMC_CUDA_EPILOGUE");
  *resid = -1;
  if ((env && strcmp(env, "0") == 0) || g->root != g->first || g->count < 2) return DEV_EPI_NONE;
  if (N(e, g->root + 1)->op == OP_GELU_GRAD) return dgelu_epilogue(e, g, bias, cover);
  int end = g->first + g->count - 1, root = g->root;
  const IrNode *m = N(e, root), *ad = N(e, root + 1);
  const IrType *mt = &m->type;
  if (mt->dt != DT_F32 || ad->op != OP_ADD || ad->nin != 2 || ad->type.dt != DT_F32 || ad->type.rank != mt->rank)
    return DEV_EPI_NONE;
  for (int d = 0; d < mt->rank; d++)
    if (!dim_eq(ad->type.d[d], mt->d[d])) return DEV_EPI_NONE;
  if (e->last_use[root] > root + 1) return DEV_EPI_NONE; /* the product itself is read by the add only */
  int r = full_addend(e, g, root + 1, root);
  if (r >= 0 && g->count == 2) { /* the product + another value of its dims (a gradient's sum) */
    *resid = r, *bias = -1, *cover = 2;
    return DEV_EPI_NONE;
  }
  int b = ad->in[0] == root ? ad->in[1] : ad->in[1] == root ? ad->in[0] : -1;
  if (b < 0 || b == root) return DEV_EPI_NONE;
  const IrType *bt = &N(e, b)->type;
  if (bt->dt != DT_F32 || bt->rank != 1 || !dim_eq(bt->d[0], mt->d[mt->rank - 1])) return DEV_EPI_NONE;
  int epi = DEV_EPI_BIAS, last = root + 1;
  if (g->count == 3 && e->last_use[root + 1] == root + 2 && (r = full_addend(e, g, root + 2, root + 1)) >= 0) {
    *resid = r, *bias = b, *cover = 3; /* + bias, then the residual */
    return DEV_EPI_BIAS;
  }
  if (g->count >= 3) {
    const IrNode *act = N(e, root + 2);
    if ((act->op != OP_GELU && act->op != OP_RELU) || act->in[0] != root + 1 || act->type.dt != DT_F32) return DEV_EPI_NONE;
    epi = act->op == OP_GELU ? DEV_EPI_BIAS_GELU : DEV_EPI_BIAS_RELU;
    last = root + 2;
  }
  if (last < end || (last > root + 1 && e->last_use[root + 1] > last)) { /* a tail, or the add read after */
    if (epi != DEV_EPI_BIAS_GELU) return DEV_EPI_NONE;
    for (int j = last + 1; j <= end; j++) /* a leading reshape of a tail would read the add's storage */
      if (N(e, j)->op == OP_RESHAPE) return DEV_EPI_NONE;
    if (e->last_use[root + 1] > last) { /* the add's value is wanted: GELU_AUX_BIAS's aux */
      Dim n = mt->d[mt->rank - 1];
      if (dim_is_const(n) && n.add % 8) return DEV_EPI_NONE; /* cuBLASLt's aux ld (a symbolic N: per run) */
      epi = DEV_EPI_BIAS_GELU_AUX;
    }
  }
  *bias = b;
  *cover = last - root + 1;
  return epi;
}

int dx_gemm(DExec *e, int i, const int64_t *sym, int out_node, int epi, DPtr bias, DPtr aux, DPtr R) {
  const IrNode *n = N(e, i);
  DPtr out = e->val[out_node];
  int a16 = e->st[n->in[0]], b16 = e->st[n->in[1]], c16 = e->st[out_node];
  int ta = (int)ir_get_i(n, "ta"), tb = (int)ir_get_i(n, "tb");
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], so[IR_MAX_RANK];
  int ra = dx_shape(e, n->in[0], sym, sa), rb = dx_shape(e, n->in[1], sym, sb), ro = dx_shape(e, i, sym, so);
  int64_t M = so[ro - 2], N = so[ro - 1], K = sa[ta ? ra - 2 : ra - 1];
  int64_t batch = 1, ba = 1, bb = 1;
  for (int d = 0; d < ro - 2; d++) batch *= so[d];
  for (int d = 0; d < ra - 2; d++) ba *= sa[d];
  for (int d = 0; d < rb - 2; d++) bb *= sb[d];
  DevGemm g = {e->val[n->in[0]], e->val[n->in[1]], out, M, N, K, 1, M * K, K * N, M * N, ta, tb, 0, e->bf16, epi, bias,
               a16, b16, c16, R};
  e->stats.gemm_flops += 2.0 * (double)M * (double)N * (double)K * (double)batch;
  int same = ra == rb && ra == ro;
  for (int d = 0; same && d < ro - 2; d++) same = sa[d] == so[d] && sb[d] == so[d];
  if (bb == 1 && !ta) { /* rows of every batch item in one product */
    g.M = M * batch;
  } else if (same || (ba == 1 && bb == batch) || (bb == 1 && ba == batch)) {
    g.batch = batch;
    if (ba == 1) g.sA = 0;
    if (bb == 1) g.sB = 0;
  } else { /* broadcasting that mixes the operands' batch dims: one product per item */
    int64_t idx[IR_MAX_RANK] = {0};
    for (int64_t it = 0; it < batch; it++) {
      int64_t oa = 0, ob = 0, ma = 1, mb = 1;
      for (int d = ro - 3; d >= 0; d--) {
        int da = d - (ro - ra), db = d - (ro - rb);
        if (da >= 0) oa += (sa[da] == 1 ? 0 : idx[d]) * ma, ma *= sa[da];
        if (db >= 0) ob += (sb[db] == 1 ? 0 : idx[d]) * mb, mb *= sb[db];
      }
      DevGemm h = g;
      h.A = g.A + (uint64_t)(oa * M * K * (a16 ? 2 : 4));
      h.B = g.B + (uint64_t)(ob * K * N * (b16 ? 2 : 4));
      h.C = g.C + (uint64_t)(it * M * N * (c16 ? 2 : 4));
      h.R = R ? R + (uint64_t)(it * M * N * (c16 ? 2 : 4)) : 0; /* laid out as C */
      DPtr ha = aux ? aux + (uint64_t)(it * M * N * (c16 ? 2 : 4)) : 0; /* laid out as C */
      if (!dev_gemm_aux(e->dev, &h, ha)) return dx_dev_fail(e, i);
      for (int d = ro - 3; d >= 0 && ++idx[d] == so[d]; d--) idx[d] = 0;
    }
    return 1;
  }
  return dev_gemm_aux(e->dev, &g, aux) || dx_dev_fail(e, i);
}

int dx_summed(DExec *e, int i, const int64_t *sym) {
  const IrNode *m = N(e, N(e, i)->in[0]);
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
  int ra = dx_shape(e, m->in[0], sym, sa), rb = dx_shape(e, m->in[1], sym, sb);
  int64_t K = sa[ra - 1], Nn = sb[rb - 1], rows = 1;
  for (int d = 0; d < ra - 1; d++) rows *= sa[d];
  if (!dx_alloc(e, i, sym)) return 0;
  DevGemm g = {e->val[m->in[0]], e->val[m->in[1]], e->val[i], K, Nn, rows, 1, 0, 0, 0, 1, 0, 0, e->bf16, 0, 0,
               e->st[m->in[0]], e->st[m->in[1]], e->st[i], 0};
  e->stats.gemm_flops += 2.0 * (double)K * (double)Nn * (double)rows;
  int j = e->bgrad[i];
  if (j >= 0 && !e->bgrad_off[i]) { /* the bias gradient (dY's column sums) in the same call */
    if (!dx_alloc(e, j, sym)) return 0;
    DevGemm h = g;
    h.epilogue = DEV_EPI_BGRAD, h.bias = e->val[j];
    if (dev_gemm(e->dev, &h)) return 1;
    if (!e->dev->gemm_epi_refused) return dx_dev_fail(e, i);
    if (getenv("MAMC_DEBUG_CUDA")) fprintf(stderr, "mamc: cuda: %%%d: no BGRAD epilogue: %s\n", i, e->dev->L.err);
    e->bgrad_off[i] = 1; /* from now on the column sum's own kernel (dexec_run.c) */
    dx_release(e, j);
  }
  return dev_gemm(e->dev, &g) || dx_dev_fail(e, i);
}

/* ---- gather, scatter (copies: dexec_copy.c) ------------------------------------------------- */

int dx_gather(DExec *e, int i, const int64_t *sym) {
  const IrNode *n = N(e, i);
  int64_t so[IR_MAX_RANK];
  int ro = dx_shape(e, i, sym, so);
  if (!dx_alloc(e, i, sym)) return 0;
  KaGather a;
  memset(&a, 0, sizeof a);
  a.out = e->val[i];
  if (n->op == OP_GATHER) {
    int64_t st[IR_MAX_RANK];
    int rt = dx_shape(e, n->in[0], sym, st);
    a.table = e->val[n->in[0]];
    a.ids = e->val[n->in[1]];
    a.V = st[0];
    a.row = rt_numel(rt - 1, st + 1);
    a.nids = dx_numel(e, n->in[1], sym);
    return dx_launch(e, i, KMOD_MOVE, "k_gather", dev_grid(e->dev, a.nids * a.row, 256), 1, 1, 256, 0, &a);
  }
  /* scatter-add in 64-bit fixed point (move.cu: the same bits whatever order the atomics land in):
   * acc [V, row] and mx after it, scratch for the node, zeroed with out */
  a.ids = e->val[n->in[0]];
  a.src = e->val[n->in[1]];
  a.V = so[0];
  a.row = rt_numel(ro - 1, so + 1);
  a.nids = dx_numel(e, n->in[0], sym);
  while (a.lgn < 62 && (1LL << a.lgn) < a.nids) a.lgn++;
  DPtr acc = 0;
  if (!dx_scratch(e, i, 2 * a.V * a.row + 4, &acc, 1)) return 0;
  a.acc = acc, a.mx = acc + (uint64_t)(a.V * a.row) * 8;
  unsigned gs = dev_grid(e->dev, a.nids * a.row, 256), gv = dev_grid(e->dev, a.V * a.row, 256);
  int ok = dev_zero(e->dev, a.out, (uint64_t)rt_numel(ro, so) * 4) || dx_dev_fail(e, i);
  ok = ok && dx_launch(e, i, KMOD_MOVE, "k_scatter_max", gs, 1, 1, 256, 0, &a) &&
       dx_launch(e, i, KMOD_MOVE, "k_scatter_add", gs, 1, 1, 256, 0, &a) &&
       dx_launch(e, i, KMOD_MOVE, "k_scatter_fin", gv, 1, 1, 256, 0, &a);
  dev_free(e->dev, acc); /* stream-ordered: the next use of these bytes runs after these launches */
  return ok;
}

/* ---- cross-entropy, norms ---------------------------------------------------------------------------- */

/* Plan time: each cross_entropy_grad on the device whose forward (exec_xent_forward: the same
 * logits, targets and ignore id; MAMC_XENT_LSE=0: none) runs on the device too reads that
 * forward's row log-sum-exps and count (KaXent.row_lse; e->aio[i].fwd, the forward's lse_last:
 * the last such gradient, which frees them), as the CPU executor pairs them. */
void dx_pair_xent(DExec *e) {
  for (int i = 0; i < e->n; i++) {
    int f = e->kind[i] == DN_XENT ? exec_xent_forward(G(e), i) : -1;
    if (f < 0 || e->kind[f] != DN_XENT) continue;
    e->aio[i].fwd = f;
    if (e->aio[f].lse_last < i) e->aio[f].lse_last = i;
  }
}

int dx_xent(DExec *e, int i, const int64_t *sym) {
  const IrNode *n = N(e, i);
  int64_t sl[IR_MAX_RANK];
  int rl = dx_shape(e, n->in[0], sym, sl);
  int64_t V = sl[rl - 1], rows = V ? rt_numel(rl, sl) / V : 0;
  if (!dx_alloc(e, i, sym)) return 0;
  KaXent a;
  memset(&a, 0, sizeof a);
  a.logits = e->val[n->in[0]], a.tg = e->val[n->in[1]], a.out = e->val[i];
  a.rows = rows, a.V = V, a.ignore = (int)ir_get_i(n, "ignore"), a.smoothing = (float)ir_get_f(n, "smoothing");
  a.bf16 = e->st[n->in[0]]; /* logits stored as bf16: k_xent_rows16, k_xent_grad16 (dlogits too) */
  if (n->op == OP_CROSS_ENTROPY_GRAD) { /* the count, then one pass per row */
    DPtr cnt;
    if (e->st[i] != a.bf16) return dx_fail(e, i, "logits and their gradient stored in different dtypes (a planning bug)");
    a.dlogits = a.out, a.g = e->val[n->in[2]];
    int f = e->aio[i].fwd;
    if (f >= 0) { /* the forward's row statistics and count: one launch, one pass per row */
      if (!e->aio[f].lse) return dx_fail(e, i, "its forward's row log-sum-exps are gone (internal error)");
      a.row_lse = e->aio[f].lse;
      int ok = dx_launch(e, i, KMOD_XENT, a.bf16 ? "k_xent_grad16" : "k_xent_grad", dev_grid(e->dev, rows, 1), 1, 1, 256, 0, &a);
      if (e->aio[f].lse_last == i) { /* the last gradient that reads them */
        dev_free(e->dev, e->aio[f].lse);
        e->aio[f].lse = 0;
      }
      e->stats.xent_reused += ok;
      return ok;
    }
    if (!dx_scratch(e, i, rows + 1, &cnt, 0)) return 0;
    a.row_cnt = cnt;
    int ok = dx_launch(e, i, KMOD_XENT, "k_xent_count", 1, 1, 1, 256, 0, &a) &&
             dx_launch(e, i, KMOD_XENT, a.bf16 ? "k_xent_grad16" : "k_xent_grad", dev_grid(e->dev, rows, 1), 1, 1, 256, 0, &a);
    dev_free(e->dev, cnt);
    return ok;
  }
  DPtr loss, cnt, lse = 0; /* lse: kept for the paired gradients (e->aio[i].lse_last frees it) */
  if (!dx_scratch(e, i, rows, &loss, 0)) return 0;
  if (!dx_scratch(e, i, rows + 1, &cnt, 0)) return dev_free(e->dev, loss), 0;
  if (e->aio[i].lse_last >= 0 && !dx_scratch(e, i, rows + 1, &lse, 0)) return dev_free(e->dev, loss), dev_free(e->dev, cnt), 0;
  a.row_loss = loss, a.row_cnt = cnt, a.row_lse = lse;
  int ok = dx_launch(e, i, KMOD_XENT, a.bf16 ? "k_xent_rows16" : "k_xent_rows", dev_grid(e->dev, rows, 1), 1, 1, 256, 0, &a) &&
           dx_launch(e, i, KMOD_XENT, "k_xent_sum", 1, 1, 1, 256, 0, &a);
  dev_free(e->dev, loss);
  dev_free(e->dev, cnt);
  if (lse && ok) e->aio[i].lse = lse;
  else if (lse) dev_free(e->dev, lse);
  return ok;
}

int dx_norm_group(DExec *e, const DGroup *g, const int64_t *sym) {
  int last = g->first + g->count - 1;
  const IrNode *nm = N(e, last);
  int64_t sh[IR_MAX_RANK];
  int r = dx_shape(e, last, sym, sh);
  if (!dx_alloc(e, last, sym)) return 0;
  KaNorm a;
  memset(&a, 0, sizeof a);
  if (g->count == 2) {
    const IrNode *ad = N(e, g->first);
    a.a = e->val[ad->in[0]], a.b = e->val[ad->in[1]];
  } else {
    a.a = e->val[nm->in[0]];
  }
  a.gain = nm->nin > 1 ? e->val[nm->in[1]] : 0;
  a.bias = nm->nin > 2 ? e->val[nm->in[2]] : 0;
  a.y = e->val[last];
  a.C = sh[r - 1];
  a.rows = a.C ? rt_numel(r, sh) / a.C : 0;
  a.rms = nm->op == OP_RMSNORM;
  a.eps = (float)ir_get_f(nm, "eps");
  if (nm->op == OP_GROUPNORM) {
    int64_t G = ir_get_i(nm, "groups");
    if (G < 1 || a.C % G) return dx_fail(e, last, "last dimension %lld is not divisible into %lld groups", a.C, (long long)G);
    a.groups = (int)G;
    if (a.C / G < 32) /* narrow groups (DiJiang: W = heads): a thread per (row, group) */
      return dx_launch(e, last, KMOD_NORM, "k_norm_fwd_small", dev_grid(e->dev, a.rows * G, 256), 1, 1, 256, 0, &a);
  }
  int64_t warps = a.rows * (a.groups > 1 ? a.groups : 1);
  return dx_launch(e, last, KMOD_NORM, "k_norm_fwd", dev_grid(e->dev, warps * 32, 256), 1, 1, 256, 0, &a);
}
