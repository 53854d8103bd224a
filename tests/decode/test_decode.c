/* test_decode.c — decoding equals the full forward pass, and the searches keep their promises
 * (docs/decoding.md), on randomly initialised models (no training needed):
 *
 *   - the cached programs (encoder once, one step per position, caches / recurrent states)
 *     reproduce the teacher-forced log-probabilities of the task graph for every prefix, to
 *     1e-5 in f32 and 1e-10 in f64, on modular.mam, shared.mam and a decoder with DiJiang's
 *     causal linear attention (decay and learned gates); so does the no-cache baseline;
 *   - beam search with beam 1 is greedy search exactly (tokens and log-probabilities);
 *   - n-best lists are ordered by score and each hypothesis's log-probability is the
 *     teacher-forced score of its tokens (cache reordering is right);
 *   - min / max length hold; cached and no-cache searches agree;
 *   - sampling is reproducible for a seed, independent of the batch, and top-k 1 is greedy.
 * No JIT here (valgrind runs this test); the e2e test runs the compiled path.
 */
#include <math.h>
#include <stdlib.h>

#include "../../runtime/decode/decode_internal.h" /* dec_beam: beam search with K = 1 itself */
#include "dec_util.h"
#include "test.h"

typedef struct Case {
  const char *model, *config, *task;
} Case;

static const Case cases[] = {
    {"examples/modular.mam", "tests/e2e/multi-sample.yaml", "translate-en-de"},
    {"examples/shared.mam", "examples/shared.yaml", "translate-en-fr"},
    {"tests/decode/dijiang.mam", "tests/decode/tiny.yaml", "translate-en-de"},
};

enum { B = 3, S = 7, T = 6 };

static void inputs(int32_t *src, int32_t *tgt) {
  int sl[B] = {7, 4, 5}, tl[B] = {6, 6, 3};
  du_tokens(src, B, S, sl, 200, 11, 0);
  du_tokens(tgt, B, T, tl, 200, 12, 1);
}

static double max_diff(const double *a, const double *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

static void test_equivalence(const Case *c, DType fdt, double tol) {
  Arena a;
  arena_init(&a);
  char err[512] = "";
  IrProgram *p = du_compile(&a, c->model, c->config, c->task);
  CHECK_MSG(p != NULL, "%s", c->model);
  int enc, step;
  ParamStore ps = {0};
  if (!p || !dec_find_graphs(p, 0, &enc, &step) || !rt_params_init(&ps, p, 7, fdt, err, sizeof err)) {
    CHECK_MSG(0, "%s: no decoding graphs or parameters: %s", c->model, err);
    arena_free(&a);
    return;
  }
  int32_t src[B * S], tgt[B * T];
  inputs(src, tgt);
  Decoder *dc = decoder_new(p, enc, step, &ps, NULL, fdt, err, sizeof err);
  Decoder *dn = decoder_new(p, -1, 0, &ps, NULL, fdt, err, sizeof err);
  CHECK_MSG(dc && dn, "%s", err);
  int V = dc ? decoder_vocab(dc) : 1;
  size_t n = (size_t)B * (T - 1) * (size_t)V;
  double *full = calloc(n, sizeof(double)), *cached = calloc(n, sizeof(double)), *nocache = calloc(n, sizeof(double));
  if (dc && dn) {
    CHECK_MSG(du_full_logp(p, &ps, fdt, src, B, S, tgt, T, full, err, sizeof err), "%s", err);
    CHECK_MSG(decoder_score(dc, src, B, S, tgt, T, cached, err, sizeof err), "%s", err);
    CHECK_MSG(decoder_score(dn, src, B, S, tgt, T, nocache, err, sizeof err), "%s", err);
    double dcached = max_diff(full, cached, n), dnocache = max_diff(full, nocache, n);
    printf("%s %s (%s): max |log p| difference to the full graph: cached %.3g, no-cache %.3g (tol %g)\n", c->model,
           c->task, dtype_name(fdt), dcached, dnocache, tol);
    CHECK_MSG(dcached <= tol, "%s: cached step programs differ from the full graph by %g", c->model, dcached);
    CHECK_MSG(dnocache <= tol, "%s: the no-cache decoder differs from the full graph by %g", c->model, dnocache);
    CHECK(full[0] < 0 && full[0] > -50);
  }
  free(full);
  free(cached);
  free(nocache);
  decoder_free(dc);
  decoder_free(dn);
  rt_params_free(&ps);
  arena_free(&a);
}

static int same_hyp(const DecHyp *x, const DecHyp *y) {
  if (x->len != y->len || x->logprob != y->logprob) return 0;
  for (int i = 0; i < x->len; i++)
    if (x->tokens[i] != y->tokens[i]) return 0;
  return 1;
}

/* The same tokens, and log-probabilities equal up to f32 rounding (another batch composition
 * sums in another order). */
static int same_tokens(const DecHyp *x, const DecHyp *y) {
  return x->len == y->len && fabs(x->logprob - y->logprob) < 1e-4 &&
         !memcmp(x->tokens, y->tokens, sizeof(int32_t) * (size_t)x->len);
}

static DecodeOpts opts(int beam, int nbest, int max_len) {
  DecodeOpts o = {0};
  o.beam = beam;
  o.nbest = nbest;
  o.lp = DEC_LP_AVG;
  o.alpha = 1.0;
  o.max_len = max_len;
  return o;
}

/* The teacher-forced log-probability of hypothesis h (its tokens, then </s>). */
static double forced(Decoder *d, const int32_t *src1, const DecHyp *h) {
  int n = h->len + 2, V = decoder_vocab(d);
  int32_t *tgt = malloc(sizeof(int32_t) * (size_t)n);
  double *lp = malloc(sizeof(double) * (size_t)(n - 1) * (size_t)V), sum = NAN;
  char err[256];
  tgt[0] = 1;
  for (int i = 0; i < h->len; i++) tgt[i + 1] = h->tokens[i];
  tgt[n - 1] = 2;
  if (decoder_score(d, src1, 1, S, tgt, n, lp, err, sizeof err)) {
    sum = 0;
    for (int t = 0; t < n - 1; t++) sum += lp[(size_t)t * V + tgt[t + 1]];
  }
  free(tgt);
  free(lp);
  return sum;
}

static void test_search(const Case *c) {
  Arena a;
  arena_init(&a);
  char err[512] = "";
  IrProgram *p = du_compile(&a, c->model, c->config, c->task);
  int enc = -1, step = -1;
  ParamStore ps = {0};
  if (!p || !dec_find_graphs(p, 0, &enc, &step) || !rt_params_init(&ps, p, 3, DT_F32, err, sizeof err)) {
    CHECK_MSG(0, "%s: %s", c->model, err);
    arena_free(&a);
    return;
  }
  int32_t src[B * S], tgt[B * T];
  inputs(src, tgt);
  Decoder *d = decoder_new(p, enc, step, &ps, NULL, DT_F32, err, sizeof err);
  Decoder *dn = decoder_new(p, -1, 0, &ps, NULL, DT_F32, err, sizeof err);
  CHECK_MSG(d && dn, "%s", err);
  if (!d || !dn) goto done;
  DecSentence g[B], b1[B], bk[B], nc[B], s1[B], s2[B], one[1], k1[B];
  DecodeOpts og = opts(1, 1, 10), ob1 = opts(1, 1, 10), obk = opts(4, 4, 10);
  ob1.beam = 1;
  CHECK_MSG(decoder_translate(d, src, B, S, NULL, &og, g, err, sizeof err), "%s", err);
  DecodeOpts force_beam = ob1;
  memset(b1, 0, sizeof b1);
  CHECK(dec_beam(d, src, B, S, &force_beam, b1, err, sizeof err)); /* beam search with K = 1 itself */
  for (int i = 0; i < B; i++)
    CHECK_MSG(g[i].n == 1 && b1[i].n == 1 && same_hyp(&g[i].hyps[0], &b1[i].hyps[0]),
              "sentence %d: beam 1 differs from greedy", i);
  /* n-best: ordered, distinct, scored as teacher forcing scores them */
  CHECK_MSG(decoder_translate(d, src, B, S, NULL, &obk, bk, err, sizeof err), "%s", err);
  double worst = 0;
  for (int i = 0; i < B; i++) {
    CHECK(bk[i].n == 4);
    for (int k = 0; k < bk[i].n; k++) {
      const DecHyp *h = &bk[i].hyps[k];
      if (k) CHECK(h->score <= bk[i].hyps[k - 1].score && !same_hyp(h, &bk[i].hyps[k - 1]));
      CHECK(h->len < 10 && fabs(h->score - h->logprob / (h->len + 1)) < 1e-12);
      worst = fmax(worst, fabs(forced(d, src + i * S, h) - h->logprob));
    }
  }
  printf("%s: beam 4 n-best: worst |logprob - teacher-forced| %.3g\n", c->model, worst);
  CHECK_MSG(worst < 1e-4, "n-best log-probabilities differ from teacher forcing by %g", worst);
  /* the no-cache baseline searches the same */
  CHECK_MSG(decoder_translate(dn, src, B, S, NULL, &og, nc, err, sizeof err), "%s", err);
  for (int i = 0; i < B; i++)
    CHECK_MSG(nc[i].n == 1 && same_tokens(&nc[i].hyps[0], &g[i].hyps[0]), "sentence %d: cached and no-cache greedy differ", i);
  dec_sentences_free(nc, B);
  /* lengths */
  DecodeOpts ol = opts(3, 2, 6);
  ol.min_len = 4;
  CHECK(decoder_translate(d, src, B, S, NULL, &ol, nc, err, sizeof err));
  for (int i = 0; i < B; i++)
    for (int k = 0; k < nc[i].n; k++) CHECK(nc[i].hyps[k].len >= 4 && nc[i].hyps[k].len <= 5);
  dec_sentences_free(nc, B);
  /* sampling: the same draws for a seed, whatever the batch; top-k 1 is greedy */
  DecodeOpts os = opts(1, 3, 10);
  os.sample = 1;
  os.seed = 42;
  os.temperature = 1.5;
  os.top_p = 0.9;
  int64_t ids[B] = {0, 1, 2}, id1 = 1;
  CHECK(decoder_translate(d, src, B, S, ids, &os, s1, err, sizeof err));
  CHECK(decoder_translate(d, src, B, S, ids, &os, s2, err, sizeof err));
  CHECK(decoder_translate(d, src + S, 1, S, &id1, &os, one, err, sizeof err));
  int same = 1, differ = 0;
  for (int i = 0; i < B; i++) {
    CHECK(s1[i].n == 3);
    for (int k = 0; k < s1[i].n && k < s2[i].n; k++) same &= same_hyp(&s1[i].hyps[k], &s2[i].hyps[k]);
    for (int k = 1; k < s1[i].n; k++) differ |= !same_hyp(&s1[i].hyps[k], &s1[i].hyps[0]);
  }
  CHECK_MSG(same, "two runs with one seed drew different samples");
  CHECK_MSG(differ, "three samples per sentence were all the same");
  for (int k = 0; k < one[0].n; k++) CHECK(one[0].n == s1[1].n && same_tokens(&one[0].hyps[k], &s1[1].hyps[k]));
  DecodeOpts o1 = opts(1, 1, 10);
  o1.sample = 1;
  o1.top_k = 1;
  CHECK(decoder_translate(d, src, B, S, NULL, &o1, k1, err, sizeof err));
  for (int i = 0; i < B; i++) CHECK(k1[i].n == 1 && same_hyp(&k1[i].hyps[0], &g[i].hyps[0]));
  /* bad options */
  DecodeOpts bad = opts(2, 3, 10);
  CHECK(!decoder_translate(d, src, B, S, NULL, &bad, nc, err, sizeof err) && strstr(err, "bad decoding options"));
  dec_sentences_free(g, B);
  dec_sentences_free(b1, B);
  dec_sentences_free(bk, B);
  dec_sentences_free(s1, B);
  dec_sentences_free(s2, B);
  dec_sentences_free(one, 1);
  dec_sentences_free(k1, B);
  DecStats st = decoder_stats(d);
  CHECK(st.steps > 0 && st.sentences > 0);
done:
  decoder_free(d);
  decoder_free(dn);
  rt_params_free(&ps);
  arena_free(&a);
}

int main(void) {
  for (int i = 0; i < COUNT_OF(cases); i++) {
    test_equivalence(&cases[i], DT_F32, 1e-5);
    test_equivalence(&cases[i], DT_F64, 1e-10);
  }
  test_search(&cases[0]);
  test_search(&cases[2]);
  return test_done();
}
