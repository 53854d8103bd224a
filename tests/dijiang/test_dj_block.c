/* test_dj_block.c — stdlib's `dijiang` attention block (label dijiang): nn.Attention(attn:
 * dijiang(gate: "learned")) of tests/dijiang/block.mam, with every parameter random, against a
 * hand-written f64 reference of DiJiang's released layer (reference §A.2):
 *   q, k, v = x Wq + bq, ...;  rotate-half rotary (base 10000) on the first dh/4 dims of q, k;
 *   phi(x) = softmax(w * (x P));  o_t = sum_{s <= t} prod_{r in (s, t]} alpha_r beta_s
 *   (phi(q_t) . phi(k_s)) v_s with ln alpha_{t,h} = ln gamma_h + gate_a[t, h], beta = 1 + gate_b;
 *   y = (silu(x Wg) * GroupNorm_{dh groups of H channels}(merge(o))) Wo + bo.
 * Also the initialisation the released code uses: P the orthonormal DCT and w normal (both
 * frozen), the output gate xavier with gain 2^-2.5, GroupNorm ones / zeros, gates ln gamma_h, 1.
 */
#include <stdlib.h>

#include "bind.h"
#include "dj.h"
#include "linattn.h"
#include "rng.h"

enum { D = 16, H = 2, DH = 8, R = 2, L = 32 };

typedef struct Params {
  const double *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo, *P, *w, *ga, *gb, *wg, *gn_g, *gn_b;
} Params;

static const double *param(const IrProgram *p, const ParamStore *ps, const char *name) {
  int k = ir_param_find(p, 0, name);
  if (k < 0) die("no parameter %s", name);
  return ps->t[ps->first[0] + k].data;
}

/* the reference: y[S, D] from x[S, D] (one batch row) */
static void reference(const Params *p, const double *x, int64_t S, double *y) {
  double *q = calloc((size_t)(S * D), sizeof(double)), *k = calloc((size_t)(S * D), sizeof(double));
  double *v = calloc((size_t)(S * D), sizeof(double)), *o = calloc((size_t)(S * D), sizeof(double));
  double *fq = calloc((size_t)(S * H * DH), sizeof(double)), *fk = calloc((size_t)(S * H * DH), sizeof(double));
  for (int64_t t = 0; t < S; t++)
    for (int j = 0; j < D; j++) {
      q[t * D + j] = p->bq[j], k[t * D + j] = p->bk[j], v[t * D + j] = p->bv[j];
      for (int i = 0; i < D; i++) {
        q[t * D + j] += x[t * D + i] * p->wq[i * D + j];
        k[t * D + j] += x[t * D + i] * p->wk[i * D + j];
        v[t * D + j] += x[t * D + i] * p->wv[i * D + j];
      }
    }
  for (int64_t t = 0; t < S; t++) /* rotary on dims [0, R) of each head, then the features */
    for (int h = 0; h < H; h++) {
      double *qs[2] = {q + t * D + h * DH, k + t * D + h * DH}, *fs[2] = {fq + (t * H + h) * DH, fk + (t * H + h) * DH};
      for (int a = 0; a < 2; a++) {
        double *z = qs[a], rot[DH];
        memcpy(rot, z, sizeof rot);
        for (int i = 0; i < R / 2; i++) {
          double th = (double)t * pow(10000.0, -2.0 * i / R), c = cos(th), s = sin(th);
          rot[i] = z[i] * c - z[i + R / 2] * s;
          rot[i + R / 2] = z[i + R / 2] * c + z[i] * s;
        }
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < DH; j++) {
          double s = 0;
          for (int i = 0; i < DH; i++) s += rot[i] * p->P[i * DH + j];
          fs[a][j] = s * p->w[j];
          mx = fmax(mx, fs[a][j]);
        }
        for (int j = 0; j < DH; j++) sum += fs[a][j] = exp(fs[a][j] - mx);
        for (int j = 0; j < DH; j++) fs[a][j] /= sum;
      }
    }
  for (int h = 0; h < H; h++) {
    double lng = log(1 - pow(2.0, -5) * (H > 1 ? pow(16.0, -(double)h / (H - 1)) : 1));
    for (int64_t t = 0; t < S; t++)
      for (int64_t s = 0; s <= t; s++) {
        double a = 1, dotp = 0;
        for (int64_t r = s + 1; r <= t; r++) a *= exp(lng + p->ga[r * H + h]);
        for (int j = 0; j < DH; j++) dotp += fq[(t * H + h) * DH + j] * fk[(s * H + h) * DH + j];
        double wgt = a * (1 + p->gb[s * H + h]) * dotp;
        for (int e = 0; e < DH; e++) o[t * D + h * DH + e] += wgt * v[s * D + h * DH + e];
      }
  }
  for (int64_t t = 0; t < S; t++) {
    double gn[D], z[D];
    for (int g = 0; g < DH; g++) { /* groups of H consecutive merged channels */
      double mean = 0, var = 0;
      for (int c = g * H; c < (g + 1) * H; c++) mean += o[t * D + c] / H;
      for (int c = g * H; c < (g + 1) * H; c++) var += pow(o[t * D + c] - mean, 2) / H;
      for (int c = g * H; c < (g + 1) * H; c++) gn[c] = (o[t * D + c] - mean) / sqrt(var + 1e-5) * p->gn_g[c] + p->gn_b[c];
    }
    for (int j = 0; j < D; j++) {
      double a = 0;
      for (int i = 0; i < D; i++) a += x[t * D + i] * p->wg[i * D + j];
      z[j] = a / (1 + exp(-a)) * gn[j];
    }
    for (int j = 0; j < D; j++) {
      y[t * D + j] = p->bo[j];
      for (int i = 0; i < D; i++) y[t * D + j] += z[i] * p->wo[i * D + j];
    }
  }
  free(q), free(k), free(v), free(o), free(fq), free(fk);
}

static void check_inits(const IrProgram *p, const ParamStore *ps) {
  const IrModule *m = &p->modules.v[0];
  const double *P = param(p, ps, "kernel.proj"), *wg = param(p, ps, "kernel.out_gate.weight");
  double dct = 0, bound = pow(2.0, -2.5) * sqrt(6.0 / (2 * D)), wmax = 0;
  for (int i = 0; i < DH; i++)
    for (int j = 0; j < DH; j++)
      dct = fmax(dct, fabs(P[i * DH + j] - sqrt((i ? 2.0 : 1.0) / DH) * cos(3.141592653589793 * i * (2 * j + 1) / (2.0 * DH))));
  for (int i = 0; i < D * D; i++) wmax = fmax(wmax, fabs(wg[i]));
  CHECK_MSG(dct < 1e-7 && wmax <= bound && wmax > 0.8 * bound, "dct %.2e, out gate max %.4f bound %.4f", dct, wmax, bound);
  CHECK(m->params.v[ir_param_find(p, 0, "kernel.proj")].frozen && m->params.v[ir_param_find(p, 0, "kernel.w")].frozen);
  CHECK(!m->params.v[ir_param_find(p, 0, "kernel.gate_a")].frozen && !m->params.v[ir_param_find(p, 0, "kernel.out_gate.weight")].frozen);
  const double *w = param(p, ps, "kernel.w"), *g = param(p, ps, "kernel.norm.gain"), *ga = param(p, ps, "kernel.gate_a");
  int neg = 0, ones = 1, zeros = 1;
  for (int i = 0; i < DH; i++) neg += w[i] < 0;
  for (int i = 0; i < D; i++) ones &= g[i] == 1;
  for (int i = 0; i < L * H; i++) zeros &= ga[i] == 0;
  CHECK(neg > 0 && neg < DH && ones && zeros);
  printf("OK dijiang's initialisation: proj = the DCT (%.1e, frozen), w signed normal (frozen), out gate xavier "
         "gain 2^-2.5 (max |w| %.4f <= %.4f), GroupNorm ones, gates ln gamma_h / 1\n", dct, wmax, bound);
}

int main(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  RunConfig *cfg = config_load(&a, &d, "tests/dijiang/block.yaml");
  IrProgram *p = cfg ? fe_elaborate_config(&a, &d, "tests/dijiang/block.mam", cfg) : NULL;
  CHECK_MSG(p, "%s", d.out.s ? d.out.s : "");
  if (!p) return test_done();
  ParamStore ps;
  char err[256];
  CHECK(rt_params_init(&ps, p, 5, DT_F64, err, sizeof err));
  check_inits(p, &ps);
  for (int i = 0; i < ps.n; i++) /* every parameter random: the wiring shows in every one */
    for (int64_t j = 0; j < ps.t[i].n; j++)
      ((double *)ps.t[i].data)[j] = (i % 3 == 2 ? 0.3 : 0.5) * rng_normal(rng_key(31, (uint64_t)i), (uint64_t)j);
  Params pr = {param(p, &ps, "wq.weight"),   param(p, &ps, "wq.b"),        param(p, &ps, "wk.weight"),
               param(p, &ps, "wk.b"),        param(p, &ps, "wv.weight"),   param(p, &ps, "wv.b"),
               param(p, &ps, "wo.weight"),   param(p, &ps, "wo.b"),        param(p, &ps, "kernel.proj"),
               param(p, &ps, "kernel.w"),    param(p, &ps, "kernel.gate_a"), param(p, &ps, "kernel.gate_b"),
               param(p, &ps, "kernel.out_gate.weight"), param(p, &ps, "kernel.norm.gain"),
               param(p, &ps, "kernel.norm.bias")};
  int64_t B = 2, S = 11;
  Tensor x;
  rt_tensor_alloc(&x, DT_F64, 3, (int64_t[]){B, S, D});
  for (int64_t i = 0; i < x.n; i++) ((double *)x.data)[i] = rng_normal(41, (uint64_t)i);
  int64_t sym[4];
  for (int s = 0; s < p->syms.n; s++) sym[s] = !strcmp(p->syms.v[s], "B") ? B : S;
  const IrGraph *g = &p->graphs.v[0];
  Tensor *vals = calloc((size_t)g->nodes.n, sizeof(Tensor));
  InterpCx cx = {.fdt = DT_F64};
  int ok = interp_graph(p, g, sym, &x, &ps, vals, &cx);
  CHECK_MSG(ok, "%s", cx.err);
  double *y = malloc(sizeof(double) * (size_t)(S * D)), worst = 0, scale = 0;
  for (int64_t b = 0; ok && b < B; b++) {
    reference(&pr, (double *)x.data + b * S * D, S, y);
    const Tensor *got = &vals[g->outputs.v[0].node];
    for (int64_t i = 0; i < S * D; i++) {
      worst = fmax(worst, fabs(rt_tensor_get(got, b * S * D + i) - y[i]));
      scale = fmax(scale, fabs(y[i]));
    }
  }
  CHECK_MSG(ok && worst / scale < 1e-12, "nn.Attention(attn: dijiang) vs the reference layer: %.2e", worst / scale);
  printf("OK nn.Attention(attn: dijiang(gate: \"learned\")) = DiJiang's released layer written by hand (rotary on "
         "dh/4, DCT features, gated linear attention, GroupNorm(dh groups), SiLU gate): max rel diff %.1e\n",
         worst / scale);
  if (ok) interp_values_free(vals, g->nodes.n);
  free(vals);
  free(y);
  rt_tensor_free(&x);
  rt_params_free(&ps);
  diag_free(&d);
  arena_free(&a);
  return test_done();
}
