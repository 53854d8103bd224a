/* exec_hoist.c — values of a run that depend on its shapes alone, computed once per shape (see
 * exec_hoist.h). The fusion pass puts a sinusoidal positional encoding (iota, exp, sin, cos,
 * concat over [S, d]) into the group that adds it to the embeddings, so every run evaluated
 * three transcendentals per element of [B, S, d]; split off, they run once per length S seen.
 *
 * Which members: a member is hoisted when it is invariant (const, iota, or an elementwise or
 * movement op of invariant values; not dropout) and it is, or feeds within the group, an
 * invariant member that costs a transcendental and is read by a non-invariant node or a graph
 * output. Cheap invariants (a causal mask's iota and compare) stay in the group: recomputing
 * them is cheaper than reading them.
 *
 * The key: a hoisted kernel reads no buffer but constants, so its results are a function of
 * its dims (cg_fill_dims: every extent and symbol it reads) and its outputs' shapes; entries
 * are kept per key, at most HOIST_ENTRIES and HOIST_BYTES a group, the least recently used
 * evicted first.
 */
#include "exec_hoist.h"

#include <stdlib.h>
#include <string.h>

enum { HOIST_ENTRIES = 64, HOIST_KEY = CG_MAX_DIMS + CG_MAX_BUFS * IR_MAX_RANK };
#define HOIST_BYTES ((size_t)32 << 20)

typedef struct HoistEntry {
  int64_t key[HOIST_KEY];
  int nkey;
  Tensor out[CG_MAX_BUFS]; /* by output buffer, in the kernel's order */
  size_t bytes;
  uint64_t used;           /* the clock at its last use */
} HoistEntry;

struct ExecHoist {
  CgKernel k;
  HoistEntry *ent; /* nent of cap (grown as lengths appear, up to HOIST_ENTRIES: ~5 KB each) */
  int nent, cap;
  size_t bytes;
  uint64_t clock;
};

static int pure(Op op) {
  if (op == OP_CONST || op == OP_IOTA) return 1;
  if (op == OP_DROPOUT) return 0;
  if (op_info(op)->flags & F_EW) return 1;
  return op == OP_RESHAPE || op == OP_EXPAND || op == OP_TRANSPOSE || op == OP_SLICE || op == OP_CONCAT || op == OP_PAD;
}

static int transcendental(Op op) {
  switch (op) {
  case OP_EXP: case OP_LOG: case OP_SIN: case OP_COS: case OP_TANH: case OP_SIGMOID: case OP_GELU: case OP_SILU:
  case OP_POW: case OP_SQRT: case OP_RSQRT: return 1;
  default: return 0;
  }
}

void exec_hoist_marks(const IrGraph *g, char *inv, char *cost) {
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *n = &g->nodes.v[i];
    int v = pure(n->op), c = transcendental(n->op);
    for (int k = 0; v && k < n->nin; k++) v = inv[n->in[k]], c |= cost[n->in[k]];
    inv[i] = (char)v;
    cost[i] = (char)(v && c);
  }
}

int exec_hoist_split(const IrGraph *g, const char *inv, const char *cost, const char *read_variant, const int *members,
                     int nm, int *h, int *nh, int *r, int *nr) {
  int n = g->nodes.n, any = 0;
  *nh = *nr = 0;
  for (int i = 0; i < nm && !any; i++) any = cost[members[i]] && read_variant[members[i]];
  if (!any) return 0; /* the common case: nothing to hoist */
  char *mark = calloc((size_t)n + 1, 1), *member = calloc((size_t)n + 1, 1);
  if (!mark || !member) return free(mark), free(member), 0;
  for (int i = 0; i < nm; i++) member[members[i]] = 1;
  for (int i = nm - 1; i >= 0; i--) { /* readers come after their operands */
    int m = members[i];
    if (!mark[m] && !(cost[m] && read_variant[m])) continue;
    mark[m] = 1;
    const IrNode *nd = &g->nodes.v[m];
    for (int k = 0; k < nd->nin; k++)
      if (member[nd->in[k]] && inv[nd->in[k]]) mark[nd->in[k]] = 1;
  }
  for (int i = 0; i < nm; i++) {
    if (mark[members[i]]) h[(*nh)++] = members[i];
    else r[(*nr)++] = members[i];
  }
  free(mark), free(member);
  return *nh;
}

ExecHoist *exec_hoist_new(CgKernel *k, const IrGraph *g) {
  for (int b = 0; b < k->nin; b++)
    if (g->nodes.v[k->bufs[b].node].op != OP_CONST) return NULL;
  ExecHoist *h = calloc(1, sizeof *h);
  if (h) h->k = *k;
  return h;
}

static void drop(ExecHoist *h, int i) {
  HoistEntry *e = &h->ent[i];
  for (int b = 0; b < CG_MAX_BUFS; b++) rt_tensor_free(&e->out[b]);
  h->bytes -= e->bytes;
  h->ent[i] = h->ent[--h->nent];
}

void exec_hoist_free(ExecHoist *h) {
  if (!h) return;
  while (h->nent) drop(h, h->nent - 1);
  free(h->ent);
  free(h);
}

int exec_hoist_run(Exec *e, ExecHoist *h, const int64_t *symvals, InterpCx *cx) {
  const IrGraph *g = &e->p->graphs.v[e->graph];
  const CgKernel *k = &h->k;
  int64_t store[CG_MAX_BUFS][IR_MAX_RANK], dims[CG_MAX_DIMS], key[HOIST_KEY];
  const int64_t *shapes[CG_MAX_BUFS];
  void *bufs[CG_MAX_BUFS];
  int nkey = 0;
  size_t bytes = 0;
  for (int b = 0; b < k->nbufs; b++) {
    const CgBufInfo *bi = &k->bufs[b];
    for (int d = 0; d < bi->type.rank; d++) store[b][d] = dim_eval(bi->type.d[d], symvals);
    shapes[b] = store[b];
    if (!bi->out) {
      const Tensor *t = e->ref[bi->node];
      if (!t || t->dt != bi->dt) {
        snprintf(cx->err, sizeof cx->err, "%%%d: hoisted kernel input %%%d is %s", bi->node, bi->node,
                 t ? "of another dtype" : "missing");
        return 0;
      }
      bufs[b] = t->data;
      continue;
    }
    const IrNode *nd = &g->nodes.v[bi->node];
    size_t n = 1;
    for (int d = 0; d < nd->type.rank; d++) n *= (size_t)(key[nkey++] = dim_eval(nd->type.d[d], symvals));
    bytes += n * (size_t)dtype_size(bi->dt);
  }
  CgRun run = {cx->seed, cx->step, cx->training};
  if (!cg_fill_dims(k, shapes, symvals, &run, dims, cx->err, sizeof cx->err)) return 0;
  for (int d = 0; d < k->ndims; d++) key[nkey++] = dims[d];
  HoistEntry *hit = NULL;
  for (int i = 0; !hit && i < h->nent; i++)
    if (h->ent[i].nkey == nkey && !memcmp(h->ent[i].key, key, sizeof *key * (size_t)nkey)) hit = &h->ent[i];
  if (hit) {
    e->stats.hoist_hits++;
  } else {
    while (h->nent && (h->nent == HOIST_ENTRIES || h->bytes + bytes > HOIST_BYTES)) {
      int lru = 0;
      for (int i = 1; i < h->nent; i++)
        if (h->ent[i].used < h->ent[lru].used) lru = i;
      drop(h, lru);
    }
    if (h->nent == h->cap) {
      int cap = h->cap ? 2 * h->cap : 4;
      HoistEntry *ent = realloc(h->ent, sizeof *ent * (size_t)cap);
      if (!ent) {
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return 0;
      }
      h->ent = ent, h->cap = cap;
    }
    hit = &h->ent[h->nent];
    memset(hit, 0, sizeof *hit);
    for (int b = 0; b < k->nbufs; b++) {
      if (!k->bufs[b].out) continue;
      const IrNode *nd = &g->nodes.v[k->bufs[b].node];
      int64_t sh[IR_MAX_RANK];
      for (int d = 0; d < nd->type.rank; d++) sh[d] = dim_eval(nd->type.d[d], symvals);
      if (!rt_tensor_alloc_raw(&hit->out[b], k->bufs[b].dt, nd->type.rank, sh)) {
        for (int c = 0; c < CG_MAX_BUFS; c++) rt_tensor_free(&hit->out[c]);
        snprintf(cx->err, sizeof cx->err, "out of memory");
        return 0;
      }
      bufs[b] = hit->out[b].data;
    }
    exec_call_kernel(e->pool, k, bufs, dims);
    memcpy(hit->key, key, sizeof *key * (size_t)nkey);
    hit->nkey = nkey;
    hit->bytes = bytes;
    h->bytes += bytes;
    h->nent++;
    e->stats.hoist_runs++;
  }
  hit->used = ++h->clock;
  for (int b = 0; b < k->nbufs; b++)
    if (k->bufs[b].out) e->ref[k->bufs[b].node] = &hit->out[b];
  return 1;
}
