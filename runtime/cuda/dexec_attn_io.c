/* dexec_attn_io.c — plan time: what softmax attention on tensor cores (attention_tc.cu) and
 * linear attention read and write. Its kernels take row strides (KaRows), so the heads' transposes around it —
 * [B, S, H, D] <-> [B, H, S, D], each a whole copy of q, k, v, dO, o, dq, dk and dv — need not
 * run; and a gradient need not run the forward again.
 *   Operands: a transpose (D kept innermost) of an unfolded value, read only as q, k, v or dO of
 *   such attention nodes, becomes DN_FOLD: the kernels read its operand through the transposed
 *   strides (dx_view, as folded copies' readers do).
 *   Results: an attention's o, or each part of a gradient's packed result (dq | dk | dv, each
 *   behind its folded slice), read by exactly one such transpose: the transpose becomes DN_INTO —
 *   the attention node allocates its buffer and writes the part there (e->aio[i].into[part]); the
 *   attention node itself then has no buffer. Every part must go so, or none does.
 *   Gradients: one with the operands and attributes of a forward node reads that forward's o
 *   (kept alive until then) and lse (kept from the forward: e->aio[f].lse) instead of running the
 *   forward again (FlashAttention-2's order) — the cross-attention's two gradients (wrt q, kv)
 *   both; and those two run as one, at the first (e->aio[].kv).
 *   Linear attention on the device (f32; its core kernels take KaRows too) likewise reads v and
 *   dO through folded transposes and writes o into the transpose that alone reads it; its
 *   gradient's parts go through k_la_pack, q and k through the feature maps: packed.
 * After dx_fold_copies (which folds the gradients' slices). MAMC_CUDA_ATTN_IO=0: none of this.
 * At run time: the readers' and writers' addresses and KaRows (dx_rows_in, dx_rows_into). */
#include <stdlib.h>
#include <string.h>

#include "dexec_internal.h"
#include "linattn.h"

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }
static const IrNode *N(const DExec *e, int i) { return &G(e)->nodes.v[i]; }

static int64_t const_dim(const DExec *e, int node, int axis) {
  const IrType *t = &N(e, node)->type;
  return axis < t->rank && dim_is_const(t->d[axis]) ? t->d[axis].add : -1;
}

int dx_attn_tc(const DExec *e, int i) {
  const IrNode *n = N(e, i);
  const char *env = getenv("MAMC_CUDA_ATTN_TC");
  if ((env && !strcmp(env, "0")) || !e->st[i]) return 0;
  int64_t D = const_dim(e, n->in[0], 3), Dv = const_dim(e, n->in[2], 3);
  return D == Dv && (D == 32 || D == 64) && (e->dev->emu || e->dev->cc >= 80);
}

/* the tensor-core kernels run node i with nothing overriding them (dexec_attn.c's use_gemm) */
static int strided_ok(const DExec *e, int i) {
  const char *m = getenv("MAMC_CUDA_ATTN");
  return e->kind[i] == DN_ATTN && !(m && !strcmp(m, "gemm")) && dx_attn_tc(e, i);
}

/* a transpose that keeps the last of 4 axes, run as a copy, storing as `st` does */
static int head_transpose(const DExec *e, int t, int st) {
  const IrNode *n = N(e, t);
  if (n->op != OP_TRANSPOSE || e->kind[t] != DN_COPY || n->type.rank != 4 || e->st[t] != st) return 0;
  const AttrVal *perm = ir_get(n, "perm");
  return perm && perm->n == 4 && perm->ints[3] == 3;
}

/* may attention node j read its operand k through strides? Softmax attention on tensor cores:
 * q, k, v, a gradient's dO (not the mask); linear attention on the device (f32): v, a
 * gradient's dO (its core kernels' KaLin rows; q and k go through the feature maps) */
static int strided_operand(const DExec *e, int j, int k) {
  const IrNode *n = N(e, j);
  if (strided_ok(e, j)) return k < 3 || (n->op == OP_SOFTMAX_ATTENTION_GRAD && k == n->nin - 1);
  LinAttn la;
  char err[200];
  if (e->kind[j] != DN_LINATTN || !ir_linattn_read(n, &la, err, sizeof err)) return 0;
  return k == la.v || (n->op == OP_LINEAR_ATTENTION_GRAD && k == la.dout);
}

/* can x, read through a head transpose, be rows of KaRows in every run? A value of its own, or
 * a folded view (`kv[..., :d]` split into heads) whose last axis is contiguous, its start and
 * other strides 16-byte aligned (the kernels' cp.async) */
static int rows_view(const DExec *e, int x) {
  if (e->kind[x] != DN_FOLD) return 1;
  int r = N(e, x)->type.rank;
  for (int w = 0; w < 2; w++) {
    int64_t off, st[IR_MAX_RANK];
    dx_view(e, x, e->sample[w], &off, st);
    if (st[r - 1] != 1 || off % 8) return 0;
    for (int d = 0; d < r - 1; d++)
      if (st[d] % 8) return 0;
  }
  return 1;
}

static void fold_operands(DExec *e, const int *readers) {
  const IrGraph *g = G(e);
  char *ok = malloc((size_t)e->n + 1);
  if (!ok) return; /* an optimisation: without memory, none */
  for (int t = 0; t < e->n; t++)
    ok[t] = readers[t] > 0 && e->last_use[t] != e->n && head_transpose(e, t, e->st[t]) &&
            rows_view(e, g->nodes.v[t].in[0]) && e->st[g->nodes.v[t].in[0]] == e->st[t];
  for (int j = 0; j < e->n; j++)
    for (int k = 0; k < g->nodes.v[j].nin; k++)
      if (!strided_operand(e, j, k)) ok[g->nodes.v[j].in[k]] = 0;
  for (int t = 0; t < e->n; t++) {
    if (!ok[t]) continue;
    e->kind[t] = DN_FOLD;
    dx_fold_keep(e, g->nodes.v[t].in[0], e->last_use[t]); /* read until its readers ran */
  }
  free(ok);
}

/* the one reader of node i, or -1 */
static int only_reader(const DExec *e, int i, const int *readers) {
  if (readers[i] != 1) return -1;
  for (int j = i + 1; j < e->n; j++)
    for (int k = 0; k < N(e, j)->nin; k++)
      if (N(e, j)->in[k] == i) return j;
  return -1;
}

/* which part (0, 1, 2 of width D) slice s of a packed gradient takes, or -1 */
static int slice_part(const DExec *e, int s, int64_t D, int64_t W) {
  const IrNode *n = N(e, s);
  if (n->op != OP_SLICE || e->kind[s] != DN_FOLD || e->last_use[s] == e->n || ir_get_i(n, "step") != 1) return -1;
  int64_t axis = ir_get_i(n, "axis"), start = ir_get_i(n, "start");
  if (axis < 0) axis += 4;
  if (start < 0) start += W;
  if (axis != 3 || const_dim(e, s, 3) != D || start % D || start < 0 || start + D > W) return -1;
  return (int)(start / D);
}

/* node i's parts, each to the transpose that reads it alone: all of them, or none */
static void fold_results(DExec *e, int i, const int *readers) {
  const IrNode *n = N(e, i);
  int64_t D = const_dim(e, n->in[0], 3), W = const_dim(e, i, 3);
  int parts = (int)(W / D), to[3] = {-1, -1, -1};
  if (D <= 0 || W != parts * D || parts > 3 || e->last_use[i] == e->n) return;
  int left = readers[i];
  for (int j = i + 1; j < e->n && left > 0; j++)
    for (int k = 0; k < N(e, j)->nin; k++) {
      if (N(e, j)->in[k] != i) continue;
      left--;
      int part = 0, t = j; /* the whole result to a transpose, or a part through its slice */
      if (parts != 1 || !head_transpose(e, j, e->st[i]))
        part = slice_part(e, j, D, W), t = part >= 0 ? only_reader(e, j, readers) : -1;
      if (t < 0 || to[part] >= 0 || !head_transpose(e, t, e->st[i])) return;
      to[part] = t;
    }
  for (int p = 0; p < parts; p++)
    if (to[p] < 0) return;
  for (int p = 0; p < parts; p++) {
    e->aio[i].into[p] = to[p];
    e->kind[to[p]] = DN_INTO;
  }
}

/* forward f and gradient j attend the same q, k, v (and mask) the same way */
static int same_attention(const DExec *e, int f, int j) {
  const IrNode *a = N(e, f), *b = N(e, j);
  int masked = a->nin > 3;
  if (a->op != OP_SOFTMAX_ATTENTION || masked != (b->nin > 4)) return 0;
  for (int k = 0; k < 3 + masked; k++)
    if (a->in[k] != b->in[k]) return 0;
  return ir_get_i(a, "causal") == ir_get_i(b, "causal") && ir_get_f(a, "scale") == ir_get_f(b, "scale");
}

static void pair_gradients(DExec *e) {
  for (int j = 0; j < e->n; j++) {
    if (N(e, j)->op != OP_SOFTMAX_ATTENTION_GRAD || !strided_ok(e, j)) continue;
    for (int f = j - 1; f >= 0; f--) {
      if (!strided_ok(e, f) || !same_attention(e, f, j)) continue;
      int o = e->aio[f].into[0] >= 0 ? e->aio[f].into[0] : f; /* the node that holds o */
      e->aio[j].fwd = f;
      if (e->aio[f].lse_last < j) e->aio[f].lse_last = j;
      if (e->last_use[o] < j) e->last_use[o] = j;
      break;
    }
  }
}

/* a cross-attention's two gradients (wrt q, wrt k and v: the same operands and attributes) as
 * one: the first computes dk and dv too, into the second's places (one delta, no second pass
 * over dO and o); the second becomes DN_INTO */
static void pair_q_kv(DExec *e) {
  for (int j = 0; j < e->n; j++) {
    const IrNode *a = N(e, j);
    if (a->op != OP_SOFTMAX_ATTENTION_GRAD || ir_get_i(a, "wrt") != 1 || !strided_ok(e, j)) continue;
    for (int k = j + 1; k < e->n; k++) {
      const IrNode *b = N(e, k);
      int same = b->op == OP_SOFTMAX_ATTENTION_GRAD && ir_get_i(b, "wrt") == 2 && b->nin == a->nin && strided_ok(e, k) &&
                 e->st[k] == e->st[j] && ir_get_i(a, "causal") == ir_get_i(b, "causal") && ir_get_f(a, "scale") == ir_get_f(b, "scale");
      for (int q = 0; same && q < a->nin; q++) same = a->in[q] == b->in[q];
      if (!same) continue;
      e->aio[j].kv = k;
      e->kind[k] = DN_INTO;
      int f = e->aio[k].fwd;
      if (f >= 0 && e->aio[f].lse_last == k) { /* k's use of the forward's lse happens at j now */
        e->aio[f].lse_last = -1;
        for (int g = 0; g < e->n; g++)
          if (g != k && e->aio[g].fwd == f && g > e->aio[f].lse_last) e->aio[f].lse_last = g;
      }
      break;
    }
  }
}

/* linear attention's o (on the device) to the transpose that alone reads it */
static void fold_linattn_result(DExec *e, int i, const int *readers) {
  int t = only_reader(e, i, readers);
  if (e->last_use[i] == e->n || t < 0 || !head_transpose(e, t, e->st[i])) return;
  e->aio[i].into[0] = t;
  e->kind[t] = DN_INTO;
}

void dx_fold_attn_io(DExec *e) {
  const char *env = getenv("MAMC_CUDA_ATTN_IO");
  if (env && !strcmp(env, "0")) return;
  const IrGraph *g = G(e);
  int *readers = calloc((size_t)e->n + 1, sizeof *readers);
  if (!readers) return;
  for (int j = 0; j < e->n; j++)
    for (int k = 0; k < g->nodes.v[j].nin; k++) readers[g->nodes.v[j].in[k]]++;
  fold_operands(e, readers);
  for (int i = 0; i < e->n; i++) {
    if (strided_ok(e, i)) fold_results(e, i, readers);
    if (e->kind[i] == DN_LINATTN && N(e, i)->op == OP_LINEAR_ATTENTION) fold_linattn_result(e, i, readers);
  }
  free(readers);
  pair_gradients(e);
  pair_q_kv(e);
}

/* ---- at run time --------------------------------------------------------------------------- */

DPtr dx_rows_in(const DExec *e, int x, const int64_t *sym, KaRows *L) {
  int64_t off, st[IR_MAX_RANK];
  memset(L, 0, sizeof *L);
  if (e->kind[x] != DN_FOLD) return e->val[x];
  DPtr p = dx_view(e, x, sym, &off, st);
  L->b = st[0], L->h = st[1], L->r = st[2];
  return p + (uint64_t)off * (uint64_t)dx_esize(e, x);
}

static DPtr into_rows(DExec *e, int t, const int64_t *sym, KaRows *L, int alloc) {
  int64_t st[IR_MAX_RANK], at[4];
  DPtr p = dx_dest(e, t, sym, st, alloc);
  const AttrVal *perm = ir_get(N(e, t), "perm");
  for (int d = 0; d < 4; d++) at[perm->ints[d]] = st[d]; /* t's axis d is the result's perm[d] */
  L->b = at[0], L->h = at[1], L->r = at[2];
  return p;
}

DPtr dx_into_rows(DExec *e, int t, const int64_t *sym, KaRows *L) { return into_rows(e, t, sym, L, 0); }

DPtr dx_rows_into(DExec *e, int t, const int64_t *sym, KaRows *L) { return into_rows(e, t, sym, L, 1); }
