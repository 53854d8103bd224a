/* dexec_run.c — the device executor's run loop (dexec.h): inputs staged through page-locked
 * buffers, parameters read in place, each planned node run (dexec_ops.c, dexec_attn.c), value
 * lifetimes (reference counts shared by views: a buffer is freed when its last reader ran),
 * the outputs handed to the caller as soon as they are computed, and the host fallback (a
 * node run by the interpreter: operands down, widened from bf16 where stored so, the result
 * up, rounded to bf16 where stored so). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dexec_internal.h"

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }

/* Drops node j's reference to its buffer, freeing it with the last one. */
void dx_release(DExec *e, int j) {
  int b = e->base[j];
  e->val[j] = 0;
  e->base[j] = -1;
  if (b >= 0 && --e->refs[b] == 0) {
    dev_free(e->dev, e->mem[b]);
    e->mem[b] = 0;
  }
}

/* ---- running ----------------------------------------------------------------------------------- */

/* input k (node i) into its staging buffer: shape checked, page-locked, so that a captured
 * graph can copy from it */
static int stage_input(DExec *e, int i, int k, const Tensor *in, const int64_t *sym) {
  const IrNode *nd = &G(e)->nodes.v[i];
  int64_t sh[IR_MAX_RANK];
  int r = dx_shape(e, i, sym, sh), bad = in->rank != r || dtype_size(in->dt) != 4;
  for (int d = 0; !bad && d < r; d++) bad = in->shape[d] != sh[d];
  if (bad) {
    char a[96];
    return dx_fail(e, i, "input '%s' has shape %s (%s), which does not match its declared type", nd->name,
                   rt_shape_str(a, sizeof a, in->rank, in->shape), dtype_name(in->dt));
  }
  size_t bytes = (size_t)in->n * 4;
  if (e->stage_cap[k] < bytes) {
    dev_host_free(e->dev, e->stage[k]);
    e->stage_cap[k] = 0;
    e->stage_gen++;
    if (!(e->stage[k] = dev_host_alloc(e->dev, bytes))) return dx_dev_fail(e, i);
    e->stage_cap[k] = bytes;
  }
  memcpy(e->stage[k], in->data, bytes);
  return 1;
}

int dexec_stage(DExec *e, const int64_t *sym, const Tensor *inputs) {
  for (int i = 0, k = 0; i < e->n; i++) {
    if (e->kind[i] != DN_INPUT) continue;
    if (!stage_input(e, i, k, &inputs[k], sym)) return 0;
    k++;
  }
  return 1;
}

static int run_input(DExec *e, int i, int k, const Tensor *in, const int64_t *sym) { /* inputs are never bf16 */
  size_t bytes = (size_t)in->n * 4;
  return stage_input(e, i, k, in, sym) && dx_alloc(e, i, sym) &&
         (dev_h2d(e->dev, e->val[i], e->stage[k], bytes) || dx_dev_fail(e, i));
}

/* a parameter read in place; one stored as bf16 (dexec_dtype.c: read by products only) from its
 * kept bf16 copy, else rounded into a buffer of this run (freed at its last use) */
static int run_param(DExec *e, int i, const DParams *ps, const int64_t *sym) {
  const IrNode *nd = &G(e)->nodes.v[i];
  int q = ps && nd->module < e->p->modules.n ? ps->first[nd->module] + nd->param : -1;
  if (q < 0 || q >= ps->n || !ps->w[q])
    return dx_fail(e, i, "this process holds no value for parameter %s of module %s",
                   e->p->modules.v[nd->module].params.v[nd->param].name, e->p->modules.v[nd->module].name);
  if (!e->st[i]) return e->val[i] = ps->w[q], 1;
  if (ps->wb && ps->wb[q]) return e->val[i] = ps->wb[q], 1;
  if (!dx_alloc(e, i, sym)) return 0;
  KaVec a;
  memset(&a, 0, sizeof a);
  a.x = ps->w[q], a.yb = e->val[i], a.n = dx_numel(e, i, sym);
  return dx_launch(e, i, KMOD_MOVE, "k_to_bf16", dev_grid(e->dev, a.n, 256), 1, 1, 256, 0, &a);
}

static int run_view(DExec *e, int i) {
  int src = G(e)->nodes.v[i].in[0];
  e->val[i] = e->val[src];
  e->base[i] = e->base[src];
  if (e->base[i] >= 0) e->refs[e->base[i]]++;
  return 1;
}

static int run_group(DExec *e, DGroup *gr, const int64_t *sym, const InterpCx *cx) {
  const IrGraph *g = G(e);
  if (gr->norm) return dx_norm_group(e, gr, sym);
  if (gr->epi == DEV_EPI_DGELU && !gr->epi_off && e->kind[gr->bias] == DN_FOLD) gr->epi_off = 1; /* x has no buffer */
  if (gr->resid >= 0 && !gr->epi_off && !e->val[gr->resid]) gr->epi_off = 1;              /* nor R (cannot happen) */
  if (dx_lt_group(gr)) { /* the product and its epilogue (or R) in one cuBLASLt call */
    int last = gr->first + gr->count - 1, aux = gr->epi == DEV_EPI_BIAS_GELU_AUX ? gr->root + 1 : -1;
    int dgelu = gr->epi == DEV_EPI_DGELU; /* bias: its aux input x */
    if (!dx_alloc(e, last, sym) || (aux >= 0 && !dx_alloc(e, aux, sym))) return 0;
    if (dx_gemm(e, gr->root, sym, last, gr->epi, dgelu || !gr->epi ? 0 : e->val[gr->bias],
                aux >= 0 ? e->val[aux] : dgelu ? e->val[gr->bias] : 0, gr->resid >= 0 ? e->val[gr->resid] : 0))
      return 1;
    if (!e->dev->gemm_epi_refused) return 0;
    if (getenv("MAMC_DEBUG_CUDA"))
      fprintf(stderr, "mamc: cuda: group at %%%d: no epilogue: %s\n", gr->first, e->dev->L.err);
    gr->epi_off = 1; /* from now on: the product, then the generated kernel */
    dx_release(e, last);
    if (aux >= 0) dx_release(e, aux);
  }
  if (gr->root >= 0 && !(dx_alloc(e, gr->root, sym) && dx_gemm(e, gr->root, sym, gr->root, 0, 0, 0, 0))) return 0;
  const CgKernel *k = &gr->k.k;
  DPtr bufs[CG_MAX_BUFS];
  int64_t store[CG_MAX_BUFS][IR_MAX_RANK], dims[CG_MAX_DIMS];
  const int64_t *shapes[CG_MAX_BUFS];
  for (int b = 0; b < k->nbufs; b++) {
    const CgBufInfo *bi = &k->bufs[b];
    for (int d = 0; d < bi->type.rank; d++) store[b][d] = dim_eval(bi->type.d[d], sym);
    shapes[b] = store[b];
    int node = bi->node;
    if (!bi->out) {
      const IrNode *nd = &g->nodes.v[node];
      if (nd->group >= 0 && nd->group == g->nodes.v[gr->first].group && nd->op == OP_RESHAPE) node = nd->in[0];
      if (!e->val[node]) return dx_fail(e, gr->first, "fused kernel input %%%d has no value", node);
      bufs[b] = e->val[node];
    } else {
      if (!dx_alloc(e, node, sym)) return 0;
      bufs[b] = e->val[node];
    }
  }
  CgRun run = {cx->seed, cx->step, cx->training};
  char err[256];
  if (!cg_fill_dims(k, shapes, sym, &run, dims, err, sizeof err)) return dx_fail(e, gr->first, "%s", err);
  if (!dev_cg_launch(e->dev, &gr->k, bufs, dims)) return dx_dev_fail(e, gr->first);
  return 1;
}

/* frees the values whose last reader is among steps first .. last (e->die_first: every value,
 * also one whose lifetime a plan extended past its IR readers — a summed GEMM's operands, a
 * folded copy's) */
static void free_dead(DExec *e, int first, int last) {
  for (int s = first; s <= last; s++)
    for (int j = e->die_first[s]; j >= 0; j = e->die_next[j])
      if (e->val[j]) dx_release(e, j);
}

int dexec_run(DExec *e, const int64_t *sym, const Tensor *inputs, const DParams *ps, const InterpCx *cx) {
  const IrGraph *g = G(e);
  int ninput = 0;
  dexec_release(e);
  e->stats.host_nodes = 0;
  e->stats.gemm_flops = 0;
  e->stats.act_bytes16 = e->stats.act_bytes32 = 0;
  e->stats.attn_flash = e->stats.attn_gemm = e->stats.attn_tc = e->stats.attn_reused = e->stats.xent_reused = 0;
  e->stats.copies = e->stats.copies_v16 = 0;
  e->stats.linattn = e->stats.linattn_tc = 0;
  memset(e->stats.launches, 0, sizeof e->stats.launches);
  for (int i = 0; i < e->n;) {
    int last = i, ok = 1;
    DKind kd = e->kind[i];
    DevQueued q0 = e->dev->queued, *q = &e->stats.launches[kd];
    int timed = e->prof && kd != DN_NONE && kd != DN_INPUT && kd != DN_PARAM && kd != DN_VIEW && kd != DN_FOLD && kd != DN_INTO;
    if (timed && !dx_prof_mark(e, i, 0)) {
      dexec_release(e);
      return 0;
    }
    switch (e->kind[i]) {
    case DN_NONE:
    case DN_FOLD:        /* a folded copy: its readers read its operand (dexec_copy.c) */
    case DN_INTO: break; /* written by another node: its operand's producer (dexec_attn_io.c,
                          * dexec_place.c), a summed GEMM's BGRAD epilogue (find_bgrad), or the
                          * paired cross-attention gradient (DAttnIo.kv) */
    case DN_INPUT: ok = run_input(e, i, ninput, &inputs[ninput], sym), ninput++; break;
    case DN_PARAM: ok = run_param(e, i, ps, sym); break;
    case DN_VIEW: ok = run_view(e, i); break;
    case DN_GROUP: {
      DGroup *gr = &e->groups[e->grp[i]];
      last = gr->first + gr->count - 1;
      ok = run_group(e, gr, sym, cx);
      break;
    }
    case DN_GEMM: ok = dx_alloc(e, i, sym) && dx_gemm(e, i, sym, i, 0, 0, 0, 0); break;
    case DN_SUMMED: {
      int j = e->bgrad[i];
      ok = dx_summed(e, i, sym) && (j < 0 || !e->bgrad_off[i] || run_group(e, &e->groups[e->grp[j]], sym, cx));
      if (ok && j >= 0 && j < i && e->on_output) /* its outputs were passed over at its own step */
        for (int o = e->out_first[j]; o >= 0; o = e->out_next[o])
          e->on_output(e->on_output_user, o, e->val[j], dx_numel(e, j, sym));
      break;
    }
    case DN_COPY: ok = dx_copy(e, i, sym); break;
    case DN_GATHER:
    case DN_SCATTER: ok = dx_gather(e, i, sym); break;
    case DN_ATTN: ok = dx_attn(e, i, sym); break;
    case DN_LINATTN: ok = dx_linattn(e, i, sym); break;
    case DN_XENT: ok = dx_xent(e, i, sym); break;
    case DN_HOST: {
      double t0 = mono_seconds();
      ok = dx_host(e, i, sym, cx);
      e->stats.host_seconds += mono_seconds() - t0;
      e->stats.host_nodes++;
      break;
    }
    default: ok = dx_fail(e, i, "no plan (internal error)");
    }
    q->kernels += e->dev->queued.kernels - q0.kernels, q->generated += e->dev->queued.generated - q0.generated;
    q->gemms += e->dev->queued.gemms - q0.gemms, q->memops += e->dev->queued.memops - q0.memops;
    if (e->debug_launches) { /* MAMC_DEBUG_CUDA_LAUNCHES=1: what each step queued, and its nodes */
      const DevQueued *d = &e->dev->queued;
      fprintf(stderr, "mamc: cuda: %%%d..%%%d %s: %lld kernels, %lld generated, %lld products, %lld copies:", i, last,
              dexec_kind_name(kd), (long long)(d->kernels - q0.kernels), (long long)(d->generated - q0.generated),
              (long long)(d->gemms - q0.gemms), (long long)(d->memops - q0.memops));
      for (int k = i; k <= last; k++) fprintf(stderr, " %s%s", op_info(G(e)->nodes.v[k].op)->name, e->st[k] ? "/bf16" : "");
      fprintf(stderr, "\n");
    }
    if (ok && timed) ok = dx_prof_mark(e, i, 1);
    if (!ok) {
      dexec_release(e);
      return 0;
    }
    if (e->on_output)
      for (int k = i; k <= last; k++)
        for (int o = e->out_first[k]; o >= 0; o = e->out_next[o])
          if (e->val[k]) e->on_output(e->on_output_user, o, e->val[k], dx_numel(e, k, sym));
    free_dead(e, i, last);
    i = last + 1;
  }
  (void)g;
  e->stats.runs++;
  if (e->prof && !dx_prof_collect(e, sym)) {
    dexec_release(e);
    return 0;
  }
  return 1;
}

DPtr dexec_output(const DExec *e, int k, const int64_t *sym, int64_t *n) {
  int node = G(e)->outputs.v[k].node;
  if (n) *n = dx_numel(e, node, sym);
  return e->val[node];
}

/* ---- the host fallback -------------------------------------------------------------------------------- */

int dx_host(DExec *e, int i, const int64_t *sym, const InterpCx *cx) {
  const IrNode *n = &G(e)->nodes.v[i];
  Tensor ins[16], out;
  const Tensor *pin[16];
  int nin = n->nin < 16 ? n->nin : 16, ok = 1;
  uint16_t *h16 = NULL;
  memset(ins, 0, sizeof ins);
  memset(&out, 0, sizeof out);
  for (int k = 0; ok && k < nin; k++) {
    int o = n->in[k];
    int64_t sh[IR_MAX_RANK];
    int r = dx_shape(e, o, sym, sh);
    DType dt = G(e)->nodes.v[o].type.dt == DT_I32 ? DT_I32 : DT_F32;
    ok = rt_tensor_alloc(&ins[k], dt, r, sh) || dx_fail(e, i, "out of memory");
    if (ok && e->st[o]) { /* bf16 storage: down as bf16, widened here */
      ok = (h16 = realloc(h16, (size_t)(ins[k].n + 1) * 2)) != NULL || dx_fail(e, i, "out of memory");
      ok = ok && (dev_d2h(e->dev, h16, e->val[o], (uint64_t)ins[k].n * 2) || dx_dev_fail(e, i));
      for (int64_t j = 0; ok && j < ins[k].n; j++) ((float *)ins[k].data)[j] = (float)rt_bf16_to_f64(h16[j]);
    } else {
      ok = ok && (dev_d2h(e->dev, ins[k].data, e->val[o], (uint64_t)ins[k].n * 4) || dx_dev_fail(e, i));
    }
    pin[k] = &ins[k];
  }
  InterpCx c = *cx;
  c.fdt = DT_F32;
  c.err[0] = 0;
  ok = ok && (interp_node(e->p, G(e), i, sym, pin, &out, &c) || dx_fail(e, i, "%s", c.err));
  ok = ok && (dtype_size(out.dt) == 4 || dx_fail(e, i, "an 8-byte result on the host path"));
  ok = ok && dx_alloc(e, i, sym);
  if (ok && e->st[i]) { /* rounded to bf16 (nearest even) on the way up */
    ok = (h16 = realloc(h16, (size_t)(out.n + 1) * 2)) != NULL || dx_fail(e, i, "out of memory");
    for (int64_t j = 0; ok && j < out.n; j++) h16[j] = rt_bf16_from_f64(((const float *)out.data)[j]);
    ok = ok && (dev_h2d(e->dev, e->val[i], h16, (uint64_t)out.n * 2) || dx_dev_fail(e, i));
  } else if (ok) {
    ok = dev_h2d(e->dev, e->val[i], out.data, (uint64_t)out.n * 4) || dx_dev_fail(e, i);
  }
  for (int k = 0; k < nin; k++) rt_tensor_free(&ins[k]);
  rt_tensor_free(&out);
  free(h16);
  return ok;
}
