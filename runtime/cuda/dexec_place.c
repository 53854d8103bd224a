/* dexec_place.c — concat operands written in place (plan time, after dexec_attn_io.c). A concat
 * copies each operand into its buffer; where an operand's producer can write at strides, it
 * writes its part of the concat's buffer instead and the concat copies nothing for it. The case
 * it is for: the gradient of a packed projection read as pieces — `kv = x @ Wkv`, k and v its
 * halves split into heads — is concat(merge_heads(dk), merge_heads(dv)) (passes/simplify.c),
 * and dk and dv come out of the attention gradient through the heads' transposes: those
 * transposes (DN_INTO, written by the attention kernels at KaRows strides) or, off the
 * tensor-core path, the transposes' copies write straight into the concat.
 *   An operand placed so: a transpose, slice or expand run as a copy, or a transpose an
 * attention node writes (e->aio), maybe behind a reshape (merge_heads), each read by nothing
 * else and not a graph output, stored in the concat's dtype; the reshape must be strides of
 * the concat's buffer in every run (dx_reshape_fixed), and for an attention writer rows with a
 * contiguous last axis, 16-byte aligned. e->host[v] = the concat (for the reshape too: it becomes
 * DN_INTO and holds no value). The concat's buffer is allocated by whichever writer runs first
 * (dx_dest) and lives until the concat's last reader; a concat left with nothing to copy is
 * DN_INTO. MAMC_CUDA_PLACE=0: none of this. */
#include <stdlib.h>
#include <string.h>

#include "dexec_internal.h"

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }
static const IrNode *N(const DExec *e, int i) { return &G(e)->nodes.v[i]; }

static void contiguous(const int64_t *sh, int r, int64_t *st) {
  int64_t s = 1;
  for (int d = r - 1; d >= 0; d--) st[d] = s, s *= sh[d];
}

/* 1: node v is a copy dx_copy runs through dx_dest; 2: a transpose an attention node writes */
static int writer(const DExec *e, int v) {
  Op op = N(e, v)->op;
  if (e->kind[v] == DN_COPY) return op == OP_TRANSPOSE || op == OP_SLICE || op == OP_EXPAND;
  if (e->kind[v] != DN_INTO || op != OP_TRANSPOSE) return 0;
  for (int i = 0; i < e->n; i++)
    for (int p = 0; p < 3; p++)
      if (e->aio[i].into[p] == v) return 2;
  return 0;
}

/* operand k of concat c (v, or reshape r of v) at its place in c's buffer: its offset and the
 * strides of v's elements there, under binding sym; 0 when the reshape is no strides */
static int place(const DExec *e, int c, int k, int r, int v, const int64_t *sym, int64_t *off, int64_t *st) {
  const IrNode *n = N(e, c);
  int64_t sc[IR_MAX_RANK], stc[IR_MAX_RANK], so[IR_MAX_RANK], sv[IR_MAX_RANK];
  int rc = dx_shape(e, c, sym, sc), axis = (int)ir_get_i(n, "axis");
  if (axis < 0) axis += rc;
  contiguous(sc, rc, stc);
  *off = 0;
  for (int q = 0; q < k; q++) {
    dx_shape(e, n->in[q], sym, so);
    *off += so[axis] * stc[axis];
  }
  if (r < 0) return memcpy(st, stc, sizeof stc), 1;
  int ro = dx_shape(e, r, sym, so), rv = dx_shape(e, v, sym, sv);
  return dx_reshape_strides(ro, so, stc, rv, sv, st);
}

static int placeable(const DExec *e, int c, int k, int r, int v, int attn) {
  int64_t off[2], st0[IR_MAX_RANK], st1[IR_MAX_RANK], *st[2] = {st0, st1};
  int rv = N(e, v)->type.rank;
  for (int w = 0; w < 2; w++) {
    if (!place(e, c, k, r, v, e->sample[w], &off[w], st[w])) return 0;
    if (attn && (st[w][rv - 1] != 1 || off[w] % 8)) return 0;
    for (int d = 0; attn && d < rv - 1; d++)
      if (st[w][d] % 8) return 0;
  }
  if (r < 0) return 1;
  int64_t stc0[IR_MAX_RANK], stc1[IR_MAX_RANK], sc[IR_MAX_RANK]; /* r's strides: c's */
  contiguous(sc, dx_shape(e, c, e->sample[0], sc), stc0);
  contiguous(sc, dx_shape(e, c, e->sample[1], sc), stc1);
  const int64_t *rst[2] = {stc0, stc1};
  return dx_reshape_fixed(e, r, v, rst);
}

void dx_place_concats(DExec *e) {
  const char *env = getenv("MAMC_CUDA_PLACE");
  if (env && !strcmp(env, "0")) return;
  int *readers = calloc((size_t)e->n + 1, sizeof *readers);
  if (!readers) return; /* an optimisation: without memory, none */
  for (int j = 0; j < e->n; j++)
    for (int k = 0; k < N(e, j)->nin; k++) readers[N(e, j)->in[k]]++;
  for (int c = 0; c < e->n; c++) {
    const IrNode *n = N(e, c);
    if (n->op != OP_CONCAT || e->kind[c] != DN_COPY) continue;
    int placed = 0;
    for (int k = 0; k < n->nin; k++) {
      int v = n->in[k], r = -1;
      if (N(e, v)->op == OP_RESHAPE && e->kind[v] == DN_VIEW && readers[v] == 1 && e->last_use[v] != e->n)
        r = v, v = N(e, v)->in[0];
      int w = writer(e, v);
      if (!w || readers[v] != 1 || e->last_use[v] == e->n || e->st[v] != e->st[c] || !placeable(e, c, k, r, v, w == 2))
        continue;
      e->host[v] = c;
      if (r >= 0) e->host[r] = c, e->kind[r] = DN_INTO;
      placed++;
    }
    if (placed == n->nin) e->kind[c] = DN_INTO;
  }
  free(readers);
}

DPtr dx_dest(DExec *e, int v, const int64_t *sym, int64_t *st, int alloc) {
  int c = e->host[v];
  if (c < 0) {
    int64_t sh[IR_MAX_RANK];
    contiguous(sh, dx_shape(e, v, sym, sh), st);
    if (!e->val[v] && alloc && !dx_alloc(e, v, sym)) return 0;
    return e->val[v];
  }
  const IrNode *n = N(e, c);
  int k = 0, r = -1;
  while (k < n->nin && n->in[k] != v && !(e->host[n->in[k]] == c && N(e, n->in[k])->in[0] == v && N(e, n->in[k])->op == OP_RESHAPE))
    k++;
  if (k == n->nin) return dx_fail(e, v, "not an operand of its concat (internal error)"), 0;
  if (n->in[k] != v) r = n->in[k];
  if (!e->val[c] && alloc && !dx_alloc(e, c, sym)) return 0;
  int64_t off;
  if (!place(e, c, k, r, v, sym, &off, st)) return dx_fail(e, v, "its place in a concat is no strides (internal error)"), 0;
  return e->val[c] ? e->val[c] + (uint64_t)off * (uint64_t)dx_esize(e, c) : 0;
}
