/* dexec_dtype.c — the device executor's storage dtypes under `precision: bf16` (dexec.h:
 * DExec.st): which activations are stored as bf16 (2 bytes an element) and which stay f32,
 * decided once per plan, as AMP decides per op, from a small policy:
 *
 *   f32 always   parameters (but those read by products only: their bf16 copy, below), inputs,
 *                every graph output (losses, gradients of parameters:
 *                what the host and the optimizer read), i32/f64 values, and the results of
 *                reductions (reduce_sum/mean/max), softmax, log_softmax and cross-entropy
 *                (whose logits may be bf16: AMP's f32 cross-entropy over bf16 logits);
 *   bf16 where   the value derives from a matrix product (a matmul's result, or an
 *                elementwise / movement / norm result that reads such a value: AMP's "bf16
 *                in, bf16 out"; values computed only from parameters, inputs, iota and
 *                constants, such as positions and masks, stay f32) or is read by products
 *                only (which round their operands to bf16 anyway: storing it so changes no
 *                number, e.g. the probabilities of a composed softmax), its producer can write
 *                bf16 (cuBLASLt, a generated kernel, a copy: k_copy_nd16, or k_copy_cvt where
 *                its operand is f32, a view of a bf16 buffer, the host fallback) and every
 *                reader can read it (cuBLASLt operands, generated kernels, copies, views that
 *                are bf16 themselves, softmax attention when q, k, v (dO) and its result all are
 *                (the kernels named 16), cross-entropy's logits (k_xent_rows16), its
 *                gradient's logits when its result is bf16 too (k_xent_grad16), the host
 *                fallback, linear attention's core as v and dO (KaLin.v16, dO16); not: the
 *                hand-written norm, linear attention's feature maps, its o (f32: DiJiang's
 *                output GroupNorm is too ill-conditioned for a rounding there; tried: the
 *                gradients moved 9e-2 in linattn.mam) and packed gradient, gather/scatter
 *                kernels, an attention mask, or an epilogue's bias). Those constraints are solved by dropping candidates until none
 *                changes (a monotone fixed point).
 * A parameter read by matrix products only (weights; not biases, gains or embeddings read by a
 * gather) is bf16 too: the executor reads the bf16 copy the trainer keeps (DParams.wb, written by
 * k_adamw beside the f32 master weight, and at every upload) or, without one, rounds it once a
 * run (k_to_bf16) instead of once a product — the same numbers either way, since products round
 * their operands to bf16 anyway. MAMC_CUDA_BF16_WEIGHTS=0 keeps parameters f32.
 * Arithmetic is f32 everywhere (kernels widen on load and round to nearest even on store;
 * products accumulate in f32). MAMC_CUDA_BF16_ACT=0 keeps every activation f32 (bf16
 * products only, as before). f32 mode stores nothing in bf16. With bf16 activations the
 * {[add], layernorm | rmsnorm} groups run as generated kernels rather than k_norm_fwd (which
 * reads and writes f32), so that the residual stream and the norms' outputs can be bf16.
 * After the kernels are compiled, dx_dtype_check re-verifies the decision against the final
 * plan (groups that codegen refused run node by node); dexec_init plans again without bf16
 * activations if it fails. dx_dtype_note counts the activation bytes of a run by dtype.
 * MAMC_DEBUG_CUDA_DTYPE=1 lists every f32 value of a bf16 plan with the reason it stays f32. */
#include <stdlib.h>

#include "dexec_internal.h"
#include "linattn.h"

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }

static int f32_op(Op op) {
  return op == OP_INPUT || op == OP_PARAM || op == OP_CONST || op == OP_IOTA || op == OP_REDUCE_SUM ||
         op == OP_REDUCE_MEAN || op == OP_REDUCE_MAX || op == OP_SOFTMAX || op == OP_LOG_SOFTMAX ||
         op == OP_CROSS_ENTROPY;
}

/* per node: the group whose kernel computes it (members of fused groups have kind DN_NONE) */
static int *group_of(const DExec *e) {
  int *gof = malloc(((size_t)e->n + 1) * sizeof *gof);
  if (!gof) return NULL;
  for (int i = 0; i < e->n; i++) gof[i] = -1;
  for (int g = 0; g < e->ngroups; g++)
    for (int j = e->groups[g].first; j < e->groups[g].first + e->groups[g].count; j++)
      if (e->kind[e->groups[g].first] == DN_GROUP && e->grp[e->groups[g].first] == g) gof[j] = g;
  return gof;
}

/* Is operand k of node i one whose dtype its kernel fixes at f32 whatever the others are: the
 * key mask of a softmax attention (forward: q k v [mask]; gradient: q k v [mask] dO), the
 * targets and the upstream scalar of cross_entropy_grad (logits targets g)? */
static int f32_operand(const IrNode *nd, int k) {
  if (nd->op == OP_CROSS_ENTROPY_GRAD) return k > 0;
  return k == 3 && ((nd->op == OP_SOFTMAX_ATTENTION && nd->nin > 3) || (nd->op == OP_SOFTMAX_ATTENTION_GRAD && nd->nin > 4));
}

/* Can node i's producer write bf16? 0 no, 1 yes, 2 only if its operands are bf16 (views;
 * softmax attention: q k v [dO], the mask apart; cross_entropy_grad: the logits) */
static int writer(const DExec *e, const int *gof, int i) {
  if (gof[i] >= 0) return e->groups[gof[i]].norm ? 0 : 1;
  switch (e->kind[i]) {
  case DN_GEMM:
  case DN_COPY: /* converting where operand and result differ (k_copy_cvt) */
  case DN_PARAM: /* its bf16 copy (DParams.wb, kept by k_adamw) or one rounded per run */
  case DN_HOST: return 1;
  case DN_XENT: return G(e)->nodes.v[i].op == OP_CROSS_ENTROPY_GRAD ? 2 : 0; /* k_xent_grad16 */
  case DN_VIEW:
  case DN_ATTN: return 2;
  default: return 0;
  }
}

/* is operand k of linear attention node nd its v or (gradient) dO: what its core kernels can
 * load as bf16? */
static int linattn_value(const IrNode *nd, int k) {
  LinAttn la;
  char err[200];
  if (!ir_linattn_read(nd, &la, err, sizeof err)) return 0;
  return k == la.v || (nd->op == OP_LINEAR_ATTENTION_GRAD && k == la.dout);
}

/* Can node r read operand v stored as bf16? 0 no, 1 yes, 2 only if r is bf16 itself (views,
 * softmax attention's q k v dO; never its mask) */
static int reader(const DExec *e, const int *gof, int r, int v) {
  if (gof[r] >= 0) {
    const DGroup *gr = &e->groups[gof[r]];
    if (gr->norm) return 0;
    if (gof[v] == gof[r]) return 1; /* inside the kernel (a root product is loaded as it is stored) */
    if (gr->epi == DEV_EPI_DGELU && v == gr->bias) return 2; /* DGELU's aux x: in the result's dtype */
    if (v == gr->resid) return 2;                             /* cuBLASLt's C: in D's */
    return gr->epi && v == gr->bias ? 0 : 1;
  }
  switch (e->kind[r]) {
  case DN_NONE: /* not run (a summed product's matmul: its reduce_sum reads the operands) */
  case DN_GEMM:
  case DN_SUMMED:
  case DN_COPY:
  case DN_HOST: return 1;
  case DN_VIEW: return 2;
  case DN_XENT: /* the logits (k_xent_rows16; k_xent_grad16 where its result is bf16 too) */
    if (G(e)->nodes.v[r].in[0] != v) return 0;
    return G(e)->nodes.v[r].op == OP_CROSS_ENTROPY_GRAD ? 2 : 1;
  case DN_ATTN: {
    const IrNode *nd = &G(e)->nodes.v[r];
    for (int k = 0; k < nd->nin; k++)
      if (nd->in[k] == v && f32_operand(nd, k)) return 0;
    return 2;
  }
  case DN_LINATTN: { /* v and dO only: q and k (the feature maps, k_la_pack) are read as f32 */
    const IrNode *nd = &G(e)->nodes.v[r];
    for (int k = 0; k < nd->nin; k++)
      if (nd->in[k] == v && !linattn_value(nd, k)) return 0;
    return 1;
  }
  default: return 0;
  }
}

/* readers of each node, CSR: rd[ro[i] .. ro[i+1]) */
static int readers(const DExec *e, int **ro_out, int **rd_out) {
  const IrGraph *g = G(e);
  int n = e->n, tot = 0;
  int *ro = calloc((size_t)n + 2, sizeof *ro);
  for (int i = 0; ro && i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++) ro[g->nodes.v[i].in[k] + 1]++, tot++;
  int *rd = ro ? malloc(((size_t)tot + 1) * sizeof *rd) : NULL, *at = rd ? calloc((size_t)n + 1, sizeof *at) : NULL;
  if (!at) {
    free(ro), free(rd);
    return 0;
  }
  for (int i = 0; i < n; i++) ro[i + 1] += ro[i];
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes.v[i].nin; k++) {
      int v = g->nodes.v[i].in[k];
      rd[ro[v] + at[v]++] = i;
    }
  free(at);
  *ro_out = ro, *rd_out = rd;
  return 1;
}

/* One pass of the constraints over cand; 1 if it changed anything. check: report (return 1)
 * instead of changing, for a materialised node whose bf16 storage the plan no longer allows. */
static int constrain(const DExec *e, const int *gof, const int *ro, const int *rd, unsigned char *cand, int check) {
  const IrGraph *g = G(e);
  int changed = 0;
  for (int i = 0; i < e->n; i++) {
    if (!cand[i]) continue;
    const IrNode *nd = &g->nodes.v[i];
    int w = writer(e, gof, i), ok = w != 0 || (check && e->kind[i] == DN_NONE && gof[i] < 0);
    for (int k = 0; ok && w == 2 && k < nd->nin; k++) ok = f32_operand(nd, k) || cand[nd->in[k]];
    for (int q = ro[i]; ok && q < ro[i + 1]; q++) {
      int r = rd[q], a = reader(e, gof, r, i);
      ok = a == 1 || (a == 2 && cand[r]);
    }
    if (!ok && check) return 1;
    if (!ok) cand[i] = 0, changed = 1;
  }
  return changed;
}

int dexec_bf16_weights(void) {
  const char *env = getenv("MAMC_CUDA_BF16_WEIGHTS");
  return !(env && strcmp(env, "0") == 0);
}

int dx_act16_on(const DExec *e) {
  const char *env = getenv("MAMC_CUDA_BF16_ACT");
  return e->bf16 && !e->no_act16 && !(env && strcmp(env, "0") == 0);
}

int dx_dtype_plan(DExec *e) {
  const IrGraph *g = G(e);
  int n = e->n;
  memset(e->st, 0, (size_t)n + 1);
  memset(e->in16, 0, (size_t)n + 1);
  if (!dx_act16_on(e)) return 1;
  int *gof = group_of(e), *ro = NULL, *rd = NULL;
  if (!gof || !readers(e, &ro, &rd)) {
    free(gof);
    return dx_fail(e, -1, "out of memory");
  }
  unsigned char *c = e->st, *d = calloc((size_t)n + 1, 1); /* candidates; bf16-derived values */
  if (!d) {
    free(gof), free(ro), free(rd);
    return dx_fail(e, -1, "out of memory");
  }
  int w16 = dexec_bf16_weights();
  for (int i = 0; i < n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    d[i] = nd->op == OP_MATMUL;
    for (int k = 0; !d[i] && k < nd->nin; k++) d[i] = d[nd->in[k]];
    d[i] = d[i] && nd->type.dt == DT_F32 && !f32_op(nd->op);
    int gemm_only = ro[i + 1] > ro[i] && nd->type.dt == DT_F32 && nd->op != OP_INPUT && (nd->op != OP_PARAM || w16);
    for (int q = ro[i]; gemm_only && q < ro[i + 1]; q++) /* products round it to bf16 anyway */
      gemm_only = g->nodes.v[rd[q]].op == OP_MATMUL && reader(e, gof, rd[q], i) == 1;
    c[i] = (d[i] || gemm_only) && e->last_use[i] != n;
  }
  free(d);
  unsigned char *c0 = getenv("MAMC_DEBUG_CUDA_DTYPE") ? malloc((size_t)n + 1) : NULL;
  if (c0) memcpy(c0, c, (size_t)n);
  while (constrain(e, gof, ro, rd, c, 0)) {
  }
  for (int i = 0; c0 && i < n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    if (nd->op == OP_PARAM || nd->op == OP_INPUT || c[i] || e->kind[i] == DN_VIEW) continue;
    const char *why = c0[i] ? "constraint" : e->last_use[i] == n ? "output" : f32_op(nd->op) ? "f32 op" : nd->type.dt != DT_F32 ? "dtype" : "not derived";
    int rk = -1;
    for (int q = ro[i]; c0[i] && q < ro[i + 1]; q++)
      if (!reader(e, gof, rd[q], i)) rk = rd[q];
    fprintf(stderr, "dtype %%%d %s kind %s w %d: f32 (%s%s%s)\n", i, op_info(nd->op)->name, dexec_kind_name(e->kind[i]),
            writer(e, gof, i), why, rk >= 0 ? ", reader " : "", rk >= 0 ? op_info(g->nodes.v[rk].op)->name : "");
  }
  free(c0);
  for (int i = 0; i < n; i++) { /* a group's leading reshape is loaded from its operand's memory */
    const IrNode *nd = &g->nodes.v[i];
    e->in16[i] = c[i];
    if (gof[i] >= 0 && nd->op == OP_RESHAPE && gof[nd->in[0]] != gof[i]) e->in16[i] = c[nd->in[0]];
  }
  free(gof), free(ro), free(rd);
  return 1;
}

int dx_dtype_check(const DExec *e) {
  int any = 0;
  for (int i = 0; i < e->n && !any; i++) any = e->st[i];
  if (!any) return 1;
  int *gof = group_of(e), *ro = NULL, *rd = NULL;
  if (!gof || !readers(e, &ro, &rd)) {
    free(gof);
    return 0;
  }
  int bad = constrain(e, gof, ro, rd, e->st, 1);
  free(gof), free(ro), free(rd);
  return !bad;
}

int64_t dx_dtype_count(const DExec *e) {
  int *gof = group_of(e);
  int64_t n16 = 0;
  for (int i = 0; gof && i < e->n; i++) {
    if (!e->st[i] || e->kind[i] == DN_VIEW) continue;
    const DGroup *gr = gof[i] >= 0 ? &e->groups[gof[i]] : NULL;
    int last = gr ? gr->first + gr->count - 1 : i;
    n16 += !gr || i == last || i == gr->root || e->last_use[i] > last; /* materialised */
  }
  free(gof);
  return n16;
}

void dx_dtype_note(DExec *e, int node, uint64_t bytes) {
  if (e->kind[node] == DN_INPUT || e->last_use[node] == e->n) return; /* inputs, outputs: not activations */
  const IrType *t = &G(e)->nodes.v[node].type;
  int batch = 0; /* activations scale with the batch: a value of constant shape (a parameter-shaped
                  * partial gradient, a table) is not one */
  for (int d = 0; d < t->rank && !batch; d++) batch = !dim_is_const(t->d[d]);
  if (!batch) return;
  if (e->st[node]) e->stats.act_bytes16 += (int64_t)bytes;
  else e->stats.act_bytes32 += (int64_t)bytes;
}
