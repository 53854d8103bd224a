/* test_dj_kernels.c — the forms of linear attention against each other (label dijiang), from
 * the reference's test oracles (dijiang_dept.md "Test oracles", 3-6 and 8):
 *   - agreement: quadratic (interpreter, f64) = recurrent (interpreter f64, fast f32) = chunked
 *     (fast f32, chunks 16/32/64/128, T not a multiple of the chunk) = quadratic (fast f32: one
 *     chunk), head dims 64/80/128, for
 *     every feature map, gate, norm, causal or bidirectional, with and without a carried state;
 *   - causality: perturbing positions > t leaves outputs <= t unchanged (bit for bit in
 *     earlier chunks);
 *   - prefix + carried state = full run; token-by-token decode = parallel forward;
 *   - T = 8192 stays finite in f32 (fast chunked) and bf16 (interpreter, bf16 rounding) and
 *     matches f64; gate decay = gate learned with g = ln gamma_h, beta = 1;
 *   - norm = running: V = 1 gives 1, every output within its causal prefix's [min, max] of V;
 *   - the lowering pass picks quadratic / chunked / recurrent as documented.
 */
#include <stdlib.h>

#include "dj.h"
#include "linattn.h"
#include "lower_attn.h"

typedef struct Spec {
  int feature, gate, running, causal, state;
  int64_t B, H, T, D, Dv, m, chunk;
  uint64_t seed;
} Spec;

typedef struct Ops {
  int q, k, v, P, w, d, g, beta, s0;
} Ops;

static const char *FW[] = {"dct", "dct_exp", "none"}, *GW[] = {"none", "decay", "learned"};

static Ops make_inputs(Dj *t, const Spec *s, DType dt) {
  Ops o = {-1, -1, -1, -1, -1, -1, -1, -1, -1};
  int64_t q4[4] = {s->B, s->H, s->T, s->D}, v4[4] = {s->B, s->H, s->T, s->Dv}, g3[3] = {s->B, s->H, s->T};
  int pos = s->running && s->feature == LA_FEAT_NONE;
  uint64_t sd = s->seed * 16;
  o.q = dj_input(t, dt, 4, q4, sd + 1, pos ? 0.1 : -1, 1);
  o.k = dj_input(t, dt, 4, q4, sd + 2, pos ? 0.1 : -1, 1);
  o.v = dj_input(t, dt, 4, v4, sd + 3, -1, 1);
  if (s->feature != LA_FEAT_NONE) {
    o.P = dj_input(t, dt, 2, (int64_t[]){s->D, s->m}, sd + 4, -0.3, 0.3);
    o.w = dj_input(t, dt, 1, (int64_t[]){s->m}, sd + 5, s->feature == LA_FEAT_DCT ? -1.5 : -0.5, s->feature == LA_FEAT_DCT ? 1.5 : 0.5);
    if (s->feature == LA_FEAT_DCT_EXP) o.d = dj_input(t, dt, 1, (int64_t[]){s->m}, sd + 6, 0.2, 1);
  }
  if (s->gate == LA_GATE_LEARNED) {
    o.g = dj_input(t, dt, 3, g3, sd + 7, -0.3, -0.01);
    o.beta = dj_input(t, dt, 3, g3, sd + 8, 0.5, 1.5);
  }
  if (s->state) o.s0 = dj_input(t, dt, 4, (int64_t[]){s->B, s->H, s->m, s->Dv + s->running}, sd + 9, s->running ? 0.1 : -1, 1);
  return o;
}

/* operand list of linear_attention (with_q) or linear_attention_state */
static int operands(const Ops *o, int with_q, int *xs) {
  int n = 0, all[] = {with_q ? o->q : -1, o->k, o->v, o->P, o->w, o->d, o->g, o->beta, o->s0};
  for (int i = 0; i < 9; i++)
    if (all[i] >= 0) xs[n++] = all[i];
  return n;
}

static int make_node(Dj *t, Op op, const Spec *s, const Ops *o, const char *lower) {
  char attrs[200];
  int xs[12], n = operands(o, op != OP_LINEAR_ATTENTION_STATE, xs);
  snprintf(attrs, sizeof attrs, "feature=%s gate=%s norm=%s chunk=%lld lower=%s%s", FW[s->feature], GW[s->gate],
           s->running ? "running" : "none", (long long)s->chunk, lower,
           op == OP_LINEAR_ATTENTION_STATE ? "" : s->causal ? " causal=1" : " causal=0");
  if (!dj_node(t, op, n, xs, attrs)) return -1;
  return t->node;
}

static double worst[8];
static void note(int k, double d) { worst[k] = fmax(worst[k], d); }

/* ---- agreement ----------------------------------------------------------------------------------- */

static void t_agree(void) {
  static const int64_t dims[3] = {64, 80, 128}, chunks[4] = {16, 32, 64, 128};
  int cases = 0;
  for (int gate = 0; gate < 3; gate++)
    for (int mode = 0; mode < 8; mode++)
      for (int di = 0; di < 3; di++) {
        Spec s = {0};
        s.gate = gate, s.running = mode & 1, s.causal = gate == 2 || ((mode >> 1) & 1);
        s.state = s.causal && (mode >> 2);
        s.feature = (gate + mode + di) % 3;
        s.B = 1 + di % 2, s.H = 2, s.D = dims[di], s.Dv = dims[(di + 1) % 3] / 2;
        s.m = s.feature == LA_FEAT_NONE ? s.D : 32 + 16 * di;
        s.chunk = chunks[(mode + di + gate) % 4];
        s.T = 65 + (gate * 37 + mode * 11 + di * 5) % 120;
        if (s.T % s.chunk == 0) s.T++;
        s.seed = (uint64_t)(gate * 100 + mode * 10 + di + 1);
        Dj t;
        dj_begin(&t);
        Ops o = make_inputs(&t, &s, DT_F32);
        int nq = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "quadratic");
        int nr = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "recurrent");
        int nc = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "chunked");
        int sq = make_node(&t, OP_LINEAR_ATTENTION_STATE, &s, &o, "quadratic");
        int sc = make_node(&t, OP_LINEAR_ATTENTION_STATE, &s, &o, "chunked");
        Tensor ref = {0}, rec = {0}, frec = {0}, fch = {0}, sref = {0}, sfch = {0}, sfrec = {0}, fq = {0};
        int ok = nq >= 0 && nr >= 0 && nc >= 0 && sq >= 0 && sc >= 0 && dj_run(&t, nq, 0, DT_F64, &ref) &&
                 dj_run(&t, nq, 1, DT_F32, &fq) &&
                 dj_run(&t, nr, 0, DT_F64, &rec) && dj_run(&t, nr, 1, DT_F32, &frec) && dj_run(&t, nc, 1, DT_F32, &fch) &&
                 dj_run(&t, sq, 0, DT_F64, &sref) && dj_run(&t, sc, 1, DT_F32, &sfch);
        if (ok && s.causal) ok = dj_run(&t, make_node(&t, OP_LINEAR_ATTENTION_STATE, &s, &o, "recurrent"), 1, DT_F32, &sfrec);
        CHECK_MSG(ok, "feature %s gate %s mode %d D %lld: a run failed", FW[s.feature], GW[gate], mode, (long long)s.D);
        if (ok) {
          double d1 = dj_diff(&rec, &ref), d2 = dj_diff(&frec, &ref), d3 = dj_diff(&fch, &ref), d4 = dj_diff(&sfch, &sref);
          double d5 = s.causal ? dj_diff(&sfrec, &sref) : 0, d6 = dj_diff(&fq, &ref);
          note(0, d1), note(1, d2), note(2, d3), note(3, fmax(d4, d5)), note(4, d6);
          CHECK_MSG(d1 < 1e-11 && d2 < 3e-5 && d3 < 3e-5 && d4 < 3e-5 && d5 < 3e-5 && d6 < 3e-5,
                    "feature %s gate %s norm %d causal %d state %d D %lld T %lld chunk %lld: interp recurrent %.2e, "
                    "fast recurrent %.2e, fast chunked %.2e, state chunked %.2e recurrent %.2e, fast quadratic %.2e",
                    FW[s.feature], GW[gate], s.running, s.causal, s.state, (long long)s.D, (long long)s.T,
                    (long long)s.chunk, d1, d2, d3, d4, d5, d6);
        }
        Tensor *all[] = {&ref, &rec, &frec, &fch, &sref, &sfch, &sfrec, &fq};
        for (int i = 0; i < 8; i++) rt_tensor_free(all[i]);
        dj_end(&t);
        cases++;
      }
  printf("OK agreement over %d cases (features x gates x norms x causal x state, D 64/80/128, chunks 16-128): "
         "max rel diff vs quadratic f64: interp recurrent %.1e, fast recurrent %.1e, fast chunked %.1e, fast "
         "quadratic (one chunk) %.1e, state %.1e\n",
         cases, worst[0], worst[1], worst[2], worst[4], worst[3]);
}

/* ---- causality -------------------------------------------------------------------------------------- */

static void t_causality(void) {
  Spec s = {LA_FEAT_DCT, LA_GATE_LEARNED, 1, 1, 0, 1, 2, 150, 64, 32, 64, 32, 77};
  int64_t cut = 100; /* perturb positions > cut: chunk 3 holds 96..127 */
  for (int lower = 0; lower < 2; lower++) {
    Dj t;
    dj_begin(&t);
    Ops o = make_inputs(&t, &s, DT_F32);
    int n = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, lower ? "recurrent" : "chunked");
    Tensor a = {0}, b = {0};
    int ok = n >= 0 && dj_run(&t, n, 1, DT_F32, &a);
    int pert[] = {o.q, o.k, o.v, o.g, o.beta};
    for (int i = 0; i < 5; i++) {
      Tensor *x = &t.x[pert[i]];
      int64_t E = x->rank == 4 ? x->shape[3] : 1;
      for (int64_t j = 0; j < x->n; j++)
        if ((j / E) % s.T > cut) rt_tensor_set(x, j, rt_tensor_get(x, j) * -3.0 + 0.25);
    }
    ok = ok && dj_run(&t, n, 1, DT_F32, &b);
    int64_t same_bits = 0, close = 0, bad = 0;
    for (int64_t i = 0; ok && i < a.n; i++) {
      int64_t pos = (i / s.Dv) % s.T;
      if (pos > cut) continue;
      float x = ((float *)a.data)[i], y = ((float *)b.data)[i];
      if (pos < 96 || lower) same_bits += x == y, bad += x != y;
      else close += fabsf(x - y) <= 1e-6f * (1 + fabsf(x)), bad += fabsf(x - y) > 1e-6f * (1 + fabsf(x));
    }
    CHECK_MSG(ok && bad == 0, "%s: %lld outputs at positions <= %lld changed", lower ? "recurrent" : "chunked",
              (long long)bad, (long long)cut);
    printf("OK causality (%s): perturbing q, k, v, g, beta after position %lld leaves %lld outputs bit-identical%s\n",
           lower ? "recurrent" : "chunked", (long long)cut, (long long)same_bits,
           lower ? "" : ", and the 5 positions of the cut's own chunk within 1e-6");
    rt_tensor_free(&a);
    rt_tensor_free(&b);
    dj_end(&t);
    (void)close;
  }
}

/* ---- prefix + state, decode ------------------------------------------------------------------------ */

/* Runs linear_attention on positions [from, to) of o's inputs with state S0 (NULL: none),
 * returning the output and (Sout) the state after `to`. */
static int segment(const Spec *s, Dj *full, const Ops *o, int64_t from, int64_t to, const Tensor *S0, const char *lower,
                   Tensor *out, Tensor *Sout) {
  Spec p = *s;
  p.T = to - from;
  p.state = S0 != NULL;
  Dj t;
  dj_begin(&t);
  Ops c = make_inputs(&t, &p, DT_F32); /* same shapes; values copied below */
  int src[] = {o->q, o->k, o->v, o->g, o->beta}, dst[] = {c.q, c.k, c.v, c.g, c.beta};
  for (int i = 0; i < 5; i++)
    if (src[i] >= 0) {
      rt_tensor_free(&t.x[dst[i]]);
      t.x[dst[i]] = dj_slice2(&full->x[src[i]], from, to);
    }
  int fsrc[] = {o->P, o->w, o->d}, fdst[] = {c.P, c.w, c.d};
  for (int i = 0; i < 3; i++)
    if (fsrc[i] >= 0) {
      rt_tensor_free(&t.x[fdst[i]]);
      rt_tensor_copy(&full->x[fsrc[i]], &t.x[fdst[i]]);
    }
  if (S0) {
    rt_tensor_free(&t.x[c.s0]);
    rt_tensor_copy(S0, &t.x[c.s0]);
  }
  int n = make_node(&t, OP_LINEAR_ATTENTION, &p, &c, lower), sn = make_node(&t, OP_LINEAR_ATTENTION_STATE, &p, &c, lower);
  int ok = n >= 0 && sn >= 0 && dj_run(&t, n, 1, DT_F32, out) && dj_run(&t, sn, 1, DT_F32, Sout);
  dj_end(&t);
  return ok;
}

static void t_prefix_and_decode(void) {
  double wp = 0, wd = 0;
  for (int gate = 0; gate < 3; gate++)
    for (int running = 0; running < 2; running++) {
      Spec s = {LA_FEAT_DCT, gate, running, 1, 0, 1, 2, 90, 64, 32, 64, 32, (uint64_t)(500 + gate * 2 + running)};
      Dj t;
      dj_begin(&t);
      Ops o = make_inputs(&t, &s, DT_F32);
      int n = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "chunked");
      Tensor full = {0};
      int ok = n >= 0 && dj_run(&t, n, 1, DT_F32, &full);
      /* prefix [0, 37) chunked, then [37, 90) from the carried state, recurrent */
      Tensor o1 = {0}, S1 = {0}, o2 = {0}, S2 = {0}, joined = {0};
      ok = ok && segment(&s, &t, &o, 0, 37, NULL, "chunked", &o1, &S1) &&
           segment(&s, &t, &o, 37, 90, &S1, "recurrent", &o2, &S2);
      if (ok) {
        rt_tensor_copy(&full, &joined);
        dj_put2(&joined, &o1, 0);
        dj_put2(&joined, &o2, 37);
        double d = dj_diff(&joined, &full);
        wp = fmax(wp, d);
        CHECK_MSG(d < 3e-5, "gate %s norm %d: prefix + state differs from the full run by %.2e", GW[gate], running, d);
      }
      /* token by token from the carried state (lower auto: one position -> recurrent) */
      Tensor S = {0}, dec = {0};
      if (ok) rt_tensor_copy(&full, &dec);
      for (int64_t i = 0; ok && i < s.T; i++) {
        Tensor oi = {0}, Si = {0};
        ok = segment(&s, &t, &o, i, i + 1, i ? &S : NULL, "auto", &oi, &Si);
        if (ok) dj_put2(&dec, &oi, i);
        rt_tensor_free(&S);
        S = Si;
        rt_tensor_free(&oi);
      }
      if (ok) {
        double d = dj_diff(&dec, &full);
        wd = fmax(wd, d);
        CHECK_MSG(d < 3e-5, "gate %s norm %d: decode differs from the parallel forward by %.2e", GW[gate], running, d);
      }
      CHECK_MSG(ok, "gate %s norm %d: a run failed", GW[gate], running);
      Tensor *all[] = {&full, &o1, &S1, &o2, &S2, &joined, &S, &dec};
      for (int i = 0; i < 8; i++) rt_tensor_free(all[i]);
      dj_end(&t);
    }
  printf("OK prefix (chunked) + carried state (recurrent) = full run: max rel diff %.1e; token-by-token decode = "
         "parallel forward: %.1e (gates none/decay/learned, norms none/running)\n", wp, wd);
}

/* ---- long sequences, decay forms, the running norm ------------------------------------------------ */

static void t_long(void) {
  /* H = 2: gamma_0 = 0.96875, gamma_1 = 0.998 (the extremes for any H); learned gates as strong
   * as ln 0.7 per step (G reaches -1500: e^{-G} would overflow any float) */
  for (int gate = 1; gate < 3; gate++) {
    Spec s = {LA_FEAT_DCT, gate, 0, 1, 0, 1, 2, 8192, 64, 64, 64, 64, (uint64_t)(900 + gate)};
    Dj t;
    dj_begin(&t);
    Ops o = make_inputs(&t, &s, DT_F32);
    if (gate == 2)
      for (int64_t i = 0; i < t.x[o.g].n; i++) rt_tensor_set(&t.x[o.g], i, -0.36 + 0.35 * (double)(i % 7) / 6);
    int nc = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "chunked"), nr = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "recurrent");
    Tensor fch = {0}, ref = {0};
    int ok = nc >= 0 && nr >= 0 && dj_run(&t, nc, 1, DT_F32, &fch) && dj_run(&t, nr, 0, DT_F64, &ref);
    double d = ok ? dj_diff(&fch, &ref) : INFINITY;
    CHECK_MSG(ok && dj_finite(&fch) && d < 1e-4, "T 8192 gate %s: finite %d, rel diff vs f64 %.2e", GW[gate],
              ok && dj_finite(&fch), d);
    printf("OK T = 8192, gate %s, f32 chunked: finite, max rel diff vs f64 recurrent %.1e\n", GW[gate], d);
    rt_tensor_free(&fch);
    rt_tensor_free(&ref);
    dj_end(&t);
  }
  /* bf16 operands and result through the interpreter (bf16 rounding of every value) */
  Spec s = {LA_FEAT_DCT, LA_GATE_DECAY, 0, 1, 0, 1, 2, 8192, 64, 64, 64, 64, 950};
  Dj t, u;
  dj_begin(&t);
  dj_begin(&u);
  Ops ob = make_inputs(&t, &s, DT_BF16), of = make_inputs(&u, &s, DT_F32);
  for (int i = 0; i < u.nx; i++) { /* the same (bf16-representable) values in f32 */
    rt_tensor_free(&u.x[i]);
    rt_tensor_copy(&t.x[i], &u.x[i]);
  }
  int nb = make_node(&t, OP_LINEAR_ATTENTION, &s, &ob, "recurrent"), nf = make_node(&u, OP_LINEAR_ATTENTION, &s, &of, "recurrent");
  Tensor b = {0}, f = {0};
  int ok = nb >= 0 && nf >= 0 && dj_run(&t, nb, 0, DT_F32, &b) && dj_run(&u, nf, 0, DT_F64, &f);
  double d = ok ? dj_diff(&b, &f) : INFINITY;
  CHECK_MSG(ok && dj_finite(&b) && d < 1e-2, "T 8192 bf16: finite %d, rel diff vs f64 %.2e", ok && dj_finite(&b), d);
  printf("OK T = 8192, bf16 (interpreter): finite, max rel diff vs f64 %.1e (bf16 rounding of the result: 3.9e-3)\n", d);
  rt_tensor_free(&b);
  rt_tensor_free(&f);
  dj_end(&t);
  dj_end(&u);
}

static void t_decay_forms(void) {
  Spec s = {LA_FEAT_NONE, LA_GATE_LEARNED, 0, 1, 1, 2, 4, 100, 32, 16, 32, 32, 321};
  Dj t;
  dj_begin(&t);
  Ops o = make_inputs(&t, &s, DT_F32);
  for (int64_t i = 0; i < t.x[o.g].n; i++) { /* g = ln gamma_h, beta = 1 */
    int64_t h = (i / s.T) % s.H;
    rt_tensor_set(&t.x[o.g], i, log(ir_linattn_gamma(h, s.H)));
    rt_tensor_set(&t.x[o.beta], i, 1);
  }
  int nl = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "chunked");
  Spec sd = s;
  sd.gate = LA_GATE_DECAY;
  Ops od = o;
  od.g = od.beta = -1;
  int nd = make_node(&t, OP_LINEAR_ATTENTION, &sd, &od, "chunked"), nq = make_node(&t, OP_LINEAR_ATTENTION, &sd, &od, "quadratic");
  Tensor a = {0}, b = {0}, c = {0};
  int ok = nl >= 0 && nd >= 0 && dj_run(&t, nl, 1, DT_F32, &a) && dj_run(&t, nd, 1, DT_F32, &b) && dj_run(&t, nq, 0, DT_F64, &c);
  double d1 = ok ? dj_diff(&a, &b) : INFINITY, d2 = ok ? dj_diff(&a, &c) : INFINITY;
  CHECK_MSG(d1 < 1e-6 && d2 < 3e-5, "decay vs learned(ln gamma, 1): %.2e, vs the gamma^(t-s) form %.2e", d1, d2);
  printf("OK gate decay = gate learned with g = ln gamma_h, beta = 1 (%.1e) = the gamma^(t-s) quadratic form (%.1e)\n", d1, d2);
  rt_tensor_free(&a);
  rt_tensor_free(&b);
  rt_tensor_free(&c);
  dj_end(&t);
}

static void t_running_norm(void) {
  Spec s = {LA_FEAT_DCT, LA_GATE_DECAY, 1, 1, 0, 1, 2, 120, 64, 8, 32, 32, 654};
  Dj t;
  dj_begin(&t);
  Ops o = make_inputs(&t, &s, DT_F32);
  Tensor v = {0}, ones = {0}, r = {0};
  int n = make_node(&t, OP_LINEAR_ATTENTION, &s, &o, "chunked");
  int ok = n >= 0 && dj_run(&t, n, 1, DT_F32, &r);
  int64_t outside = 0;
  for (int64_t i = 0; ok && i < r.n; i++) { /* within [min, max] of v over positions <= t */
    int64_t e = i % s.Dv, pos = (i / s.Dv) % s.T, bh = i / s.Dv / s.T;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t u = 0; u <= pos; u++) {
      double x = rt_tensor_get(&t.x[o.v], (bh * s.T + u) * s.Dv + e);
      lo = fmin(lo, x), hi = fmax(hi, x);
    }
    double y = rt_tensor_get(&r, i);
    outside += y < lo - 1e-5 || y > hi + 1e-5;
  }
  for (int64_t i = 0; i < t.x[o.v].n; i++) rt_tensor_set(&t.x[o.v], i, 1);
  ok = ok && dj_run(&t, n, 1, DT_F32, &ones);
  double dev = 0;
  for (int64_t i = 0; ok && i < ones.n; i++) dev = fmax(dev, fabs(rt_tensor_get(&ones, i) - 1));
  CHECK_MSG(ok && outside == 0 && dev < 1e-6, "running norm: %lld outputs outside their prefix's range, V = 1 gives %.2e off",
            (long long)outside, dev);
  printf("OK norm = running: every output within [min, max] of its causal prefix of V; V = 1 gives 1 (%.1e)\n", dev);
  rt_tensor_free(&v);
  rt_tensor_free(&ones);
  rt_tensor_free(&r);
  dj_end(&t);
}

static void t_lowering(void) {
  Arena a;
  arena_init(&a);
  IrProgram p;
  ir_program_init(&p, &a);
  Diag d;
  diag_init(&d);
  const char *text = "task @t() (%q: f32[1, 2, S, 8], %a: f32[1, 2, 16, 8], %b: f32[1, 2, 1, 8]) -> (o: f32[1, 2, S, 8]) {\n"
                     "  %0 = linear_attention %q, %q, %q {causal} : f32[1, 2, S, 8]\n"
                     "  %1 = linear_attention %a, %a, %a {causal} : f32[1, 2, 16, 8]\n"
                     "  %2 = linear_attention %b, %b, %b {causal} : f32[1, 2, 1, 8]\n"
                     "  %3 = linear_attention %a, %a, %a {causal, lower = recurrent} : f32[1, 2, 16, 8]\n"
                     "  return o = %0\n}\n";
  int ok = ir_parse(&p, srcfile_from_string(&a, "t.mir", text), &d);
  CHECK_MSG(ok, "%s", d.out.s ? d.out.s : "");
  if (ok) {
    IrGraph *g = &p.graphs.v[0];
    int n0 = 3; /* after the three inputs */
    CHECK(lower_attn_choose(&p, g, n0) == LA_LOWER_CHUNKED && lower_attn_choose(&p, g, n0 + 1) == LA_LOWER_QUADRATIC &&
          lower_attn_choose(&p, g, n0 + 2) == LA_LOWER_RECURRENT);
    CHECK(pass_lower_attn(&p, 0, &d));
    int want[] = {LA_LOWER_CHUNKED, LA_LOWER_QUADRATIC, LA_LOWER_RECURRENT, LA_LOWER_RECURRENT};
    for (int i = 0; i < 4; i++) CHECK(ir_get_i(&g->nodes.v[n0 + i], "lower") == want[i]);
    setenv("MAMC_LINATTN", "bogus", 1);
    CHECK(!pass_lower_attn(&p, 0, &d) && strstr(d.out.s, "MAMC_LINATTN must be quadratic, chunked or recurrent"));
    unsetenv("MAMC_LINATTN");
  }
  printf("OK the lowering pass: symbolic length -> chunked, constant <= 64 -> quadratic, one position -> "
         "recurrent, explicit choices kept\n");
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  t_agree();
  t_causality();
  t_prefix_and_decode();
  t_long();
  t_decay_forms();
  t_running_norm();
  t_lowering();
  return test_done();
}
