/* dexec_linattn.c — the device executor's linear attention nodes (DiJiang; dexec.h):
 * linear_attention (the feature maps of q and k, then the chunked core, forward) and
 * linear_attention_grad (the core's backward, packed by k_la_pack / k_la_scan). The core runs
 * on tensor cores (linattn_tc.cu, 3xTF32: f32 accuracy) where dexec_la_tc allows, else on
 * CUDA cores (linattn.cu); both keep the same chunk states, carried by k_la_carry. Which nodes
 * run here is decided at plan time (dexec_ops.c: linattn_ok). */
#include <stdlib.h>
#include <string.h>

#include "dexec_internal.h"
#include "linattn.h"

static const IrNode *N(const DExec *e, int i) { return &e->p->graphs.v[e->graph].nodes.v[i]; }

/* shared memory of k_la_local / k_la_out (0) and k_la_grad (1) for m features (linattn.cu's layout) */
unsigned dexec_la_smem(int m, int bwd) {
  int C = 32, DVB = 32, mp = m + 1;
  int floats = bwd ? 2 * C * mp + 2 * C * DVB + 2 * m * DVB + 2 * C * (C + 1) + 3 * C + 2 * C
                   : 2 * C * mp + C * DVB + m * DVB + C * (C + 1) + 3 * C + 2 * C;
  return (unsigned)floats * 4;
}

/* shared memory of linattn_tc.cu's kernels (their layouts): kind 0 k_la_local_tc, 1 k_la_out_tc,
 * 2 k_la_grad_tc, 3 k_la_features_tc (D: its input width) */
unsigned dexec_la_tc_smem(int m, int dv, int D, int kind) {
  const int C = 32, wm = (m + 15) & ~15, wv = (dv + 15) & ~15, wd = (D + 15) & ~15, lm = wm + 4, lv = wv + 4;
  const int scores = C * (C + 4), gates = 3 * C + 2 * C; /* eb, wl, beta; the f64 cumulative gates */
  int floats = kind == 0   ? C * lm + C * lv + wm * lv + gates
               : kind == 1 ? 3 * C * lm + C * lv + wm * lv + scores + gates
               : kind == 2 ? 3 * C * lm + 2 * C * lv + wm * lv + 2 * scores + gates
                           : wd * lm + 64 * (wd + 4);
  return (unsigned)floats * 4;
}

/* DiJiang on tensor cores (linattn_tc.cu): on compute capability 8.0 and later (the host
 * emulation: always, so that the tests run them), with m features, dv value columns and input
 * width D all at most 64; MAMC_CUDA_LA_TC=0 keeps linattn.cu's kernels */
int dexec_la_tc(const Dev *dev, int m, int dv, int D) {
  const char *env = getenv("MAMC_CUDA_LA_TC");
  if (env && !strcmp(env, "0")) return 0;
  return (dev->emu || dev->cc >= 80) && m <= 64 && dv <= 64 && D <= 64;
}

/* Chunks a segment for the tensor-core kernels (each block walks a segment's chunks in order,
 * and only the segments' states go through memory): enough segments for about 1024 blocks,
 * 8 an H200 multiprocessor; MAMC_CUDA_LA_SEG=N sets it (the tests walk segments of 2) */
int dexec_la_seg(int64_t BH, int NT) {
  const char *env = getenv("MAMC_CUDA_LA_SEG");
  if (env && atoi(env) > 0) return atoi(env);
  int64_t want = (1024 + BH - 1) / BH; /* segments a slice */
  return want >= NT ? 1 : (int)((NT + want - 1) / want);
}

/* the states' groups: segments (tensor cores) or chunks */
static int la_groups(const KaLin *a, int NT) { return a->seg > 1 ? (NT + a->seg - 1) / a->seg : NT; }

/* every group's start state of one direction: part 0 the forward state (states), 1 the reverse
 * state of the backward (rstates): each group's own sum, then carried across the groups */
static int la_states(DExec *e, int i, KaLin *a, int part, int NT, unsigned gy, int tc) {
  a->part = part;
  int ok = tc ? dx_launch(e, i, KMOD_LINATTN, "k_la_local_tc", (unsigned)a->BH, (unsigned)la_groups(a, NT), 1, 128,
                          dexec_la_tc_smem(a->m, a->dv_w, a->D, 0), a)
              : dx_launch(e, i, KMOD_LINATTN, "k_la_local", (unsigned)a->BH, gy, (unsigned)NT, 128, dexec_la_smem(a->m, 0), a);
  return ok && dx_launch(e, i, KMOD_LINATTN, "k_la_carry", dev_grid(e->dev, a->BH * a->m * a->dv_w, 256), 1, 1, 256, 0, a);
}

/* phi(x) of the rows of x into out (k_la_features) */
static int la_features(DExec *e, int i, KaLin *a, DPtr x, DPtr out, int tc) {
  a->x = x, a->out = out;
  if (tc)
    return dx_launch(e, i, KMOD_LINATTN, "k_la_features_tc", (unsigned)((a->rows + 63) / 64), 1, 1, 128,
                     dexec_la_tc_smem(a->m, a->dv_w, a->D, 3), a);
  return dx_launch(e, i, KMOD_LINATTN, "k_la_features", dev_grid(e->dev, a->rows * 32, 256), 1, 1, 256, 0, a);
}

/* one direction of the core: o += (forward), or dq, dkb, dv += (grad); the tensor-core kernels
 * store instead (=) where a->acc is 0 */
static int la_core(DExec *e, int i, KaLin *a, int grad, int NT, unsigned gy, int tc) {
  const unsigned BH = (unsigned)a->BH;
  if (!la_states(e, i, a, 0, NT, gy, tc) || (grad && !la_states(e, i, a, 1, NT, gy, tc))) return 0;
  if (tc)
    return dx_launch(e, i, KMOD_LINATTN, grad ? "k_la_grad_tc" : "k_la_out_tc", BH, (unsigned)la_groups(a, NT), 1, 128,
                     dexec_la_tc_smem(a->m, a->dv_w, a->D, grad ? 2 : 1), a);
  return dx_launch(e, i, KMOD_LINATTN, grad ? "k_la_grad" : "k_la_out", BH, gy, (unsigned)NT, 128, dexec_la_smem(a->m, grad), a);
}

int dx_linattn(DExec *e, int i, const int64_t *sym) {

  const IrNode *n = N(e, i);
  LinAttn la;
  char err[256];
  if (!ir_linattn_read(n, &la, err, sizeof err)) return dx_fail(e, i, "%s", err);
  int64_t sk[IR_MAX_RANK], sv[IR_MAX_RANK];
  dx_shape(e, n->in[la.k], sym, sk);
  dx_shape(e, n->in[la.v], sym, sv);
  int64_t BH = sk[0] * sk[1], T = sk[2], D = sk[3], Dv = sv[3];
  int m = (int)(la.proj >= 0 ? dx_numel(e, n->in[la.proj], sym) / D : D);
  int grad = n->op == OP_LINEAR_ATTENTION_GRAD;
  if (grad) m = (int)D; /* q~, k~ come feature-mapped */
  KaLin a;
  memset(&a, 0, sizeof a);
  a.BH = BH, a.H = (int)sk[1], a.T = (int)T, a.D = (int)D, a.m = m, a.dv_w = (int)Dv;
  a.decay = la.gate == LA_GATE_DECAY;
  a.lg = la.gate == LA_GATE_LEARNED ? e->val[n->in[la.g]] : 0;
  a.beta = la.gate == LA_GATE_LEARNED ? e->val[n->in[la.beta]] : 0;
  a.v = e->val[n->in[la.v]];
  DPtr fq = 0, fk = 0, states = 0, rstates = 0, decays = 0, dq = 0, dkb = 0, dv = 0, scr = 0;
  int ok = dx_alloc(e, i, sym), NT = (int)((T + 31) / 32);
  unsigned gy = (unsigned)((Dv + 31) / 32);
  const int tc = dexec_la_tc(e->dev, m, (int)Dv, (int)D);
  e->stats.linattn++, e->stats.linattn_tc += tc;
  a.seg = tc ? dexec_la_seg(BH, NT) : 1;
  const int64_t ng = la_groups(&a, NT);
  ok = ok && dx_scratch(e, i, BH * ng * (int64_t)m * Dv, &states, 0) && dx_scratch(e, i, BH * ng, &decays, 0);
  a.states = states, a.decays = decays;
  if (!grad && ok) {
    if (la.feature != LA_FEAT_NONE) { /* phi(q), phi(k) */
      a.P = e->val[n->in[la.proj]];
      a.fw = e->val[n->in[la.fw]];
      a.fd = la.fd >= 0 ? e->val[n->in[la.fd]] : 0;
      a.feature = la.feature == LA_FEAT_DCT ? 0 : 1;
      a.rows = BH * T;
      ok = dx_scratch(e, i, BH * T * m, &fq, 0) && dx_scratch(e, i, BH * T * m, &fk, 0);
      ok = ok && la_features(e, i, &a, e->val[n->in[la.q]], fq, tc) && la_features(e, i, &a, e->val[n->in[la.k]], fk, tc);
    }
    a.q = fq ? fq : e->val[n->in[la.q]];
    a.k = fk ? fk : e->val[n->in[la.k]];
    a.o = e->val[i];
    ok = ok && (tc || dev_zero(e->dev, a.o, (uint64_t)(BH * T * Dv) * 4) || dx_dev_fail(e, i));
    for (int pass = 0; ok && pass < (la.causal ? 1 : 2); pass++) {
      a.reverse = a.strict = a.acc = pass;
      ok = la_core(e, i, &a, 0, NT, gy, tc);
    }
  } else if (ok) {
    a.q = e->val[n->in[la.q]];
    a.k = e->val[n->in[la.k]];
    a.dO = e->val[n->in[la.dout]];
    ok = ok && dx_scratch(e, i, BH * ng * (int64_t)m * Dv, &rstates, 0) && dx_scratch(e, i, BH * T * m, &dq, !tc) &&
         dx_scratch(e, i, BH * T * m, &dkb, !tc) && dx_scratch(e, i, BH * T * Dv, &dv, !tc);
    a.rstates = rstates, a.dq = dq, a.dkb = dkb, a.dv = dv;
    for (int pass = 0; ok && pass < (la.causal ? 1 : 2); pass++) {
      a.reverse = a.strict = a.acc = pass;
      ok = la_core(e, i, &a, 1, NT, gy, tc);
    }
    KaLinPack pk = {a.q, a.k, a.beta, dq, dkb, dv, e->val[i], 0, BH, (int)T, m, (int)Dv, (int)Dv,
                    la.gate == LA_GATE_LEARNED, 0};
    if (ok && pk.learned) ok = dx_scratch(e, i, BH * T, &scr, 0);
    pk.scratch = scr;
    ok = ok && dx_launch(e, i, KMOD_LINATTN, "k_la_pack", dev_grid(e->dev, BH * T * 32, 256), 1, 1, 256, 0, &pk);
    if (ok && pk.learned) ok = dx_launch(e, i, KMOD_LINATTN, "k_la_scan", dev_grid(e->dev, BH, 64), 1, 1, 64, 0, &pk);
  }
  dev_free(e->dev, fq);
  dev_free(e->dev, fk);
  dev_free(e->dev, states);
  dev_free(e->dev, rstates);
  dev_free(e->dev, decays);
  dev_free(e->dev, dq);
  dev_free(e->dev, dkb);
  dev_free(e->dev, dv);
  dev_free(e->dev, scr);
  return ok;
}
