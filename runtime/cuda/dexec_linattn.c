/* dexec_linattn.c — the device executor's linear attention nodes (DiJiang; dexec.h):
 * linear_attention (the feature maps of q and k, then the chunked core, forward) and
 * linear_attention_grad (the core's backward, packed by k_la_pack / k_la_scan), by la_dev.c's
 * sequences: on tensor cores (linattn_tc.cu, 3xTF32: f32 accuracy) where la_dev_tc allows,
 * else on CUDA cores (linattn.cu). Which nodes run here is decided at plan time (dexec_ops.c:
 * linattn_ok). */
#include <stdlib.h>
#include <string.h>

#include "dexec_internal.h"
#include "la_dev.h"
#include "linattn.h"

static const IrNode *N(const DExec *e, int i) { return &e->p->graphs.v[e->graph].nodes.v[i]; }

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
  a.v = dx_rows_in(e, n->in[la.v], sym, &a.lv); /* v, o and dO maybe through the heads' transposes */
  a.v16 = e->st[n->in[la.v]]; /* and v, dO maybe bf16 (dexec_dtype.c; o stays f32) */
  DPtr fq = 0, fk = 0, states = 0, rstates = 0, decays = 0, dq = 0, dkb = 0, dv = 0, scr = 0;
  int into = e->aio[i].into[0], NT = (int)((T + 31) / 32);
  int ok = into >= 0 ? (a.o = dx_rows_into(e, into, sym, &a.lo)) != 0 : dx_alloc(e, i, sym);
  const int tc = la_dev_tc(e->dev, m, (int)Dv, (int)D);
  e->stats.linattn++, e->stats.linattn_tc += tc;
  a.seg = tc ? la_dev_seg(BH, NT) : 1;
  const int64_t ng = la_dev_groups(&a);
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
      ok = ok && ((la_dev_features(e->dev, &a, tc, e->val[n->in[la.q]], fq) &&
                   la_dev_features(e->dev, &a, tc, e->val[n->in[la.k]], fk)) ||
                  dx_dev_fail(e, i));
    }
    a.q = fq ? fq : e->val[n->in[la.q]];
    a.k = fk ? fk : e->val[n->in[la.k]];
    if (into < 0) a.o = e->val[i];
    ok = ok && (la_dev_core(e->dev, &a, tc, 0, !la.causal) || dx_dev_fail(e, i));
  } else if (ok) {
    a.q = e->val[n->in[la.q]];
    a.k = e->val[n->in[la.k]];
    a.dO = dx_rows_in(e, n->in[la.dout], sym, &a.ldO);
    a.dO16 = e->st[n->in[la.dout]];
    ok = ok && dx_scratch(e, i, BH * ng * (int64_t)m * Dv, &rstates, 0) && dx_scratch(e, i, BH * T * m, &dq, 0) &&
         dx_scratch(e, i, BH * T * m, &dkb, 0) && dx_scratch(e, i, BH * T * Dv, &dv, 0);
    a.rstates = rstates, a.dq = dq, a.dkb = dkb, a.dv = dv;
    ok = ok && (la_dev_core(e->dev, &a, tc, 1, !la.causal) || dx_dev_fail(e, i));
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
