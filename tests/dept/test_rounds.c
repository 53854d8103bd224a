/* test_rounds.c — DEPT's round arithmetic against the oracles of the reference's DEPT list
 * (../shared/reference/dijiang_dept.md, "Test oracles"; runtime/rounds.h, passes/dept.h):
 *   2. masked mean: row i = phi[i] + the mean of the deltas of the workers holding i; rows in
 *      no vocabulary bit-unchanged; a single source gives its own update;
 *   3. averaging: one worker returns its parameters exactly; identical workers return them
 *      exactly; permuting the workers changes no bit with a fixed reduction order (two
 *      workers: any order), and nothing beyond rounding in any order;
 *      the outer optimizer (Nesterov on the averaged delta) against its formula;
 *   6./7. accounting: the §B.4 formulas give the paper's Table 2 and 9 numbers (the 714x);
 *   and a source's vocabulary rows: ascending, the special ids in, every id of its text in;
 *   and Algorithm 1's S_r: the draw of a round's sources (deterministic, k distinct, uniform).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dept.h"
#include "rounds.h"
#include "test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double unit(void) { /* [0, 1) */
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float val(void) { return (float)(unit() * 4 - 2); }

enum { V = 23, ROW = 5, K = 4 };

/* worker k's vocabulary: a random subset; its trained rows: phi + a random delta */
typedef struct Worker {
  int64_t n;
  int32_t ids[V];
  double w[V];
  float values[V * ROW];
} Worker;

static void make_worker(Worker *wk, const float *phi, double weight) {
  wk->n = 0;
  for (int i = 0; i < V; i++)
    if (unit() < 0.5 && i != 7) { /* row 7: in no vocabulary */
      wk->ids[wk->n] = i;
      wk->w[wk->n] = weight;
      for (int e = 0; e < ROW; e++) wk->values[wk->n * ROW + e] = phi[i * ROW + e] + val();
      wk->n++;
    }
}

static DeptRows as_rows(const Worker *wk) { return (DeptRows){wk->n, wk->ids, wk->w, wk->values}; }

static void test_masked_mean(void) {
  float phi[V * ROW], out[V * ROW];
  for (int i = 0; i < V * ROW; i++) phi[i] = val();
  static Worker wk[K];
  DeptRows rows[K];
  double weight[K] = {1, 1, 3, 2};
  for (int k = 0; k < K; k++) make_worker(&wk[k], phi, weight[k]), rows[k] = as_rows(&wk[k]);
  CHECK(dept_masked_mean(phi, V, ROW, rows, K, out));
  double worst = 0;
  for (int i = 0; i < V; i++) {
    double W = 0, mean[ROW] = {0};
    for (int k = 0; k < K; k++)
      for (int64_t j = 0; j < wk[k].n; j++)
        if (wk[k].ids[j] == i) {
          W += weight[k];
          for (int e = 0; e < ROW; e++) mean[e] += weight[k] * ((double)wk[k].values[j * ROW + e] - phi[i * ROW + e]);
        }
    for (int e = 0; e < ROW; e++) {
      if (W == 0) {
        CHECK_MSG(memcmp(&out[i * ROW + e], &phi[i * ROW + e], 4) == 0, "row %d (in no vocabulary) changed", i);
        continue;
      }
      double want = phi[i * ROW + e] + mean[e] / W;
      double err = fabs(out[i * ROW + e] - want) / fmax(fabs(want), 1);
      if (err > worst) worst = err;
    }
  }
  CHECK_MSG(worst <= 1e-6, "masked mean: worst relative error %g", worst);
  printf("OK: masked mean: row i = phi[i] + weighted mean of the holders' deltas (max rel err %.1e); row 7, in no "
         "vocabulary, bit-unchanged\n", worst);

  /* a single source: its own update, exactly */
  CHECK(dept_masked_mean(phi, V, ROW, rows, 1, out));
  int exact = 1;
  for (int i = 0; i < V * ROW; i++) {
    int64_t j = 0;
    while (j < wk[0].n && wk[0].ids[j] != i / ROW) j++;
    const float *want = j < wk[0].n ? &wk[0].values[j * ROW + i % ROW] : &phi[i];
    exact &= memcmp(&out[i], want, 4) == 0;
  }
  CHECK(exact);
  printf("OK: masked mean of one source = its own rows, bit for bit (the others: phi)\n");
}

static void test_averaging(void) {
  enum { N = 97 };
  float x[N], a[N], m[N] = {0}, xbar[N], got[N];
  for (int i = 0; i < N; i++) x[i] = val(), a[i] = val();
  /* one worker: the dense path sums p_k x_k with p = 1 (the others p = 0) */
  float zero_other[N];
  for (int i = 0; i < N; i++) zero_other[i] = val();
  for (int i = 0; i < N; i++) xbar[i] = 1.0f * x[i] + 0.0f * zero_other[i];
  memcpy(got, x, sizeof got);
  float anchor[N];
  memcpy(anchor, a, sizeof anchor);
  dept_outer_apply(got, anchor, m, xbar, N, 1.0, 0.0, 0);
  CHECK(memcmp(got, x, sizeof got) == 0 && memcmp(anchor, x, sizeof got) == 0);
  /* ... and through the row path (one holder per row) */
  int32_t ids[1] = {0};
  double w1[1] = {17};
  DeptRows one = {1, ids, w1, x};
  float out[N];
  CHECK(dept_masked_mean(a, 1, N, &one, 1, out));
  CHECK(memcmp(out, x, sizeof out) == 0);
  printf("OK: one worker: the outer step (plain averaging) returns its parameters exactly\n");

  /* identical workers: the average is each of them, bit for bit */
  DeptRows same[5];
  double ws[5] = {1, 2, 3, 250, 4096};
  for (int k = 0; k < 5; k++) same[k] = (DeptRows){1, ids, &ws[k], x};
  CHECK(dept_masked_mean(a, 1, N, same, 5, out));
  CHECK(memcmp(out, x, sizeof out) == 0);
  printf("OK: identical workers (weights 1, 2, 3, 250, 4096): the average equals each, bit for bit\n");

  /* permutations: 2 workers in either order give the same bits; 5 workers in a fixed
   * (sorted) order give the same bits however they were listed; any order within rounding */
  float y[5][N], o1[N], o2[N];
  for (int k = 0; k < 5; k++)
    for (int i = 0; i < N; i++) y[k][i] = val();
  DeptRows wk[5], pk[5];
  for (int k = 0; k < 5; k++) wk[k] = (DeptRows){1, ids, &ws[k], y[k]};
  pk[0] = wk[1], pk[1] = wk[0];
  CHECK(dept_masked_mean(a, 1, N, wk, 2, o1) && dept_masked_mean(a, 1, N, pk, 2, o2));
  CHECK(memcmp(o1, o2, sizeof o1) == 0);
  int perm[5] = {3, 0, 4, 2, 1};
  for (int k = 0; k < 5; k++) pk[k] = wk[perm[k]];
  CHECK(dept_masked_mean(a, 1, N, pk, 5, o2));
  double worst = 0;
  for (int i = 0; i < N; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
  DeptRows sorted[5]; /* the fixed order: restore the workers' own order from the permuted list */
  for (int k = 0; k < 5; k++) sorted[perm[k]] = pk[k];
  CHECK(dept_masked_mean(a, 1, N, wk, 5, o1) && dept_masked_mean(a, 1, N, sorted, 5, o2));
  CHECK(memcmp(o1, o2, sizeof o1) == 0);
  CHECK(dept_masked_mean(a, 1, N, pk, 5, o2));
  worst = 0;
  for (int i = 0; i < N; i++) worst = fmax(worst, fabs(o1[i] - o2[i]) / fmax(fabs(o1[i]), 1));
  CHECK_MSG(worst <= 1e-6, "permuted order: %g", worst);
  printf("OK: permutation invariance: 2 workers bit-exact in either order; 5 workers bit-exact in a fixed order, "
         "%.1e in another\n", worst);

  /* the outer optimizer: Nesterov momentum on the averaged delta (DiLoCo), two rounds */
  float xo[N], ao[N], mo[N] = {0};
  double ar[N], mr[N] = {0};
  for (int i = 0; i < N; i++) ao[i] = a[i], ar[i] = a[i];
  double lr = 0.7, mu = 0.9, err = 0;
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) xbar[i] = (float)(ar[i] - 0.1 * (round + 1) * x[i]);
    dept_outer_apply(xo, ao, mo, xbar, N, lr, mu, 1);
    for (int i = 0; i < N; i++) {
      double delta = ar[i] - xbar[i];
      mr[i] = mu * mr[i] + delta;
      ar[i] = ar[i] - lr * (delta + mu * mr[i]);
      err = fmax(err, fabs(xo[i] - ar[i]) + fabs(ao[i] - ar[i]));
    }
  }
  CHECK_MSG(err <= 1e-5, "nesterov: %g", err);
  printf("OK: outer Nesterov step (lr 0.7, momentum 0.9) = its formula over two rounds (max err %.1e)\n", err);
}

/* Table 2 and 9 of the paper from its model sizes (reference §B.4; oracles 6 and 7) */
static void test_table2(void) {
  const double M = 1e6;
  DeptCostIn ml = {86.4 * M, 250112, 216135, 768, 0, 500};
  DeptCost std = dept_cost(DEPT_NONE, &ml), glob = dept_cost(DEPT_GLOB, &ml), trim = dept_cost(DEPT_TRIM, &ml),
           spec = dept_cost(DEPT_SPEC, &ml);
  CHECK_NEAR(std.emb / M, 192.1, 0.1);
  CHECK_NEAR(std.model / M, 278.5, 0.5);
  CHECK_NEAR(std.per_step / M, 278.5, 0.5);
  CHECK_NEAR(glob.per_step / M, 0.56, 0.005);
  CHECK_NEAR(trim.emb / M, 166.0, 0.1);
  CHECK_NEAR(trim.model / std.model, 0.91, 0.01);
  CHECK_NEAR(trim.per_step / M, 0.50, 0.01);
  CHECK_NEAR(spec.per_step / M, 0.17, 0.005);
  DeptCostIn opt = ml;
  opt.Vk = 50257;
  DeptCost so = dept_cost(DEPT_SPEC, &opt);
  CHECK_NEAR(so.emb / M, 38.6, 0.1);
  CHECK_NEAR(so.model / std.model, 0.45, 0.01);
  /* Multilingual-B, 24 blocks, d = 2048: STD 1.71B against SPEC-OPT's 2.4M per step */
  DeptCostIn big = {1.1977e9, 250112, 50257, 2048, 0, 500};
  DeptCost bs = dept_cost(DEPT_NONE, &big), bo = dept_cost(DEPT_SPEC, &big);
  CHECK_NEAR(bs.emb / M, 512.2, 0.1);
  CHECK_NEAR(bs.model / 1e9, 1.71, 0.005);
  CHECK_NEAR(bo.emb / M, 102.9, 0.1);
  CHECK_NEAR(bs.emb / bo.emb, 4.98, 0.01);
  CHECK_NEAR(bo.model / 1e9, 1.30, 0.005);
  CHECK_NEAR(bo.per_step / M, 2.4, 0.005);
  double ratio = bs.per_step / bo.per_step;
  CHECK_NEAR(ratio, 714, 2);
  /* Pile, 12 blocks: GLOB 125M / 500 = 0.25M per step; SPEC 86.4M / 500 = 0.17M */
  DeptCostIn pile = {86.4 * M, 50257, 45554, 768, 0, 500};
  CHECK_NEAR(dept_cost(DEPT_GLOB, &pile).per_step / M, 0.25, 0.005);
  CHECK_NEAR(dept_cost(DEPT_SPEC, &pile).per_step / M, 0.17, 0.005);
  CHECK_NEAR(dept_cost(DEPT_TRIM, &pile).model / M, 121.4, 0.5);
  printf("OK: Table 2/9 arithmetic: STD %.0fM/step, GLOB %.2fM, TRIM %.2fM, SPEC %.2fM (12-block MC4); 1B: "
         "%.2fB / %.2fM = %.0fx, embeddings %.1fM -> %.1fM (%.2fx)\n",
         std.per_step / M, glob.per_step / M, trim.per_step / M, spec.per_step / M, bs.per_step / 1e9,
         bo.per_step / M, ratio, bs.emb / M, bo.emb / M, bs.emb / bo.emb);
}

/* a source's vocabulary: the byte tokenizer on a two-column corpus */
static void test_vocab_rows(void) {
  const char *text = "ab\0zz\0ba\0a b\0";
  uint64_t off[] = {0, 3, 6, 9, 13};
  Corpus c = {2, 2, 2, 1, 0, text, off};
  Tokenizer *tok = tokenizer_byte();
  int32_t *rows = NULL;
  int64_t n = 0;
  char err[256];
  int cols[1] = {0};
  CHECK(dept_vocab_rows(&c, cols, 1, tok, 260, &rows, &n, err, sizeof err));
  int32_t want[] = {0, 1, 2, 3, 4 + 'a', 4 + 'b'};
  CHECK(n == 6 && rows && memcmp(rows, want, sizeof want) == 0);
  free(rows);
  int both[2] = {0, 1};
  CHECK(dept_vocab_rows(&c, both, 2, tok, 260, &rows, &n, err, sizeof err));
  CHECK(n == 8 && rows && rows[7] == 4 + 'z');
  free(rows);
  CHECK(!dept_vocab_rows(&c, both, 2, tok, 100, &rows, &n, err, sizeof err) && strstr(err, "beyond the 100 rows"));
  tokenizer_free(tok);
  printf("OK: a source's vocabulary rows: ascending, specials in, every id of its columns in\n");
}

/* Algorithm 1's S_r (dept.sources_per_round): exactly k distinct sources, the same draw for the
 * same (seed, round) whoever asks, all sources when k >= n, and uniform: over many rounds each
 * k-subset of n sources comes up about equally often, and so each source in k / n of them. */
static void test_round_sources(void) {
  char a[16], b[16];
  for (int n = 1; n <= 16; n++)
    for (int k = 1; k <= n; k++)
      for (int64_t r = 0; r < 40; r++) {
        dept_round_sources(7, r, n, k, a);
        dept_round_sources(7, r, n, k, b);
        int cnt = 0, bad = 0;
        for (int i = 0; i < n; i++) cnt += a[i] == 1, bad |= a[i] != 0 && a[i] != 1;
        CHECK_MSG(cnt == k && !bad, "n %d, k %d, round %lld: %d drawn", n, k, (long long)r, cnt);
        CHECK_MSG(memcmp(a, b, (size_t)n) == 0, "n %d, k %d, round %lld: two draws differ", n, k, (long long)r);
      }
  dept_round_sources(7, 3, 5, 0, a); /* k <= 0: all */
  CHECK(memchr(a, 0, 5) == NULL);
  int differ = 0; /* the seed and the round both change the draw */
  for (int64_t r = 0; r < 20; r++) {
    dept_round_sources(1, r, 8, 3, a);
    dept_round_sources(2, r, 8, 3, b);
    differ += memcmp(a, b, 8) != 0;
  }
  CHECK_MSG(differ >= 10, "seeds 1 and 2 draw the same subset in %d of 20 rounds", 20 - differ);
  enum { NS = 5, KS = 2, ROUNDS = 20000 };
  int subsets[1 << NS] = {0}, per[NS] = {0}, nsub = 0;
  for (int64_t r = 0; r < ROUNDS; r++) {
    dept_round_sources(12345, r, NS, KS, a);
    int mask = 0;
    for (int i = 0; i < NS; i++) mask |= a[i] << i, per[i] += a[i];
    subsets[mask]++;
  }
  double want = ROUNDS / 10.0, chi2 = 0; /* C(5, 2) = 10 subsets */
  for (int m = 0; m < 1 << NS; m++)
    if (subsets[m]) nsub++, chi2 += (subsets[m] - want) * (subsets[m] - want) / want;
  CHECK_MSG(nsub == 10, "%d distinct 2-subsets of 5 drawn, want 10", nsub);
  CHECK_MSG(chi2 < 27.9, "subset counts far from uniform: chi2 %.1f (9 dof, p = 0.001 at 27.9)", chi2);
  for (int i = 0; i < NS; i++)
    CHECK_MSG(fabs(per[i] - ROUNDS * (double)KS / NS) < 0.03 * ROUNDS * KS / NS, "source %d drawn in %d of %d rounds", i,
              per[i], ROUNDS);
}

int main(void) {
  test_round_sources();
  test_masked_mean();
  test_averaging();
  test_table2();
  test_vocab_rows();
  return test_done();
}
