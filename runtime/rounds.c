/* rounds.c — the arithmetic of DEPT's rounds, the draw of a round's sources and a source's
 * TRIM vocabulary (rounds.h). The trainer's rounds (trainer_sync.c: tsync_outer) call these
 * after their collectives. */
#include "rounds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void dept_outer_apply(float *x, float *a, float *m, const float *xbar, int64_t n, double lr, double mu, int nesterov) {
  if (lr == 1.0 && mu == 0.0) { /* plain averaging: the combined parameters themselves */
    memcpy(x, xbar, sizeof(float) * (size_t)n);
    memcpy(a, xbar, sizeof(float) * (size_t)n);
    return;
  }
  for (int64_t e = 0; e < n; e++) {
    double delta = (double)a[e] - (double)xbar[e];
    m[e] = (float)(mu * m[e] + delta);
    double upd = nesterov ? delta + mu * m[e] : m[e];
    x[e] = a[e] = (float)(a[e] - lr * upd);
  }
}

/* ---- the sources of a round ------------------------------------------------------------------------- */

void dept_round_sources(uint64_t seed, int64_t round, int n, int k, char *in) {
  int all = k <= 0 || k >= n;
  for (int i = 0; i < n; i++) in[i] = (char)all;
  if (all) return;
  uint64_t key = rng_key(rng_key(seed, 0x44455054u /* "DEPT" */), (uint64_t)round);
  for (int j = n - k; j < n; j++) { /* Floyd: each k-subset equally likely */
    int x = (int)(rng_uniform(key, (uint64_t)j) * (double)(j + 1));
    if (x > j) x = j;
    if (in[x]) x = j;
    in[x] = 1;
  }
}

/* ---- TRIM rows ------------------------------------------------------------------------------------- */

void dept_rows_add(double *S, double *W, int64_t row, const DeptRows *c) {
  for (int64_t i = 0; i < c->n; i++) {
    double w = c->w ? c->w[i] : 1.0;
    if (w <= 0) continue;
    int64_t id = c->ids[i];
    W[id] += w;
    double *s = S + id * row;
    const float *v = c->values + i * row;
    for (int64_t e = 0; e < row; e++) s[e] += w * (double)v[e];
  }
}

void dept_rows_finish(float *x, float *a, float *m, const double *S, const double *W, int64_t V, int64_t row,
                      double lr, double mu, int nesterov) {
  float *xbar = malloc(sizeof(float) * (size_t)(row ? row : 1));
  for (int64_t i = 0; i < V; i++) {
    float *xi = x + i * row, *ai = a + i * row;
    if (W[i] <= 0 || !xbar) { /* a row no worker holds (or no memory: keep the anchor) */
      memcpy(xi, ai, sizeof(float) * (size_t)row);
      continue;
    }
    for (int64_t e = 0; e < row; e++) xbar[e] = (float)(S[i * row + e] / W[i]);
    dept_outer_apply(xi, ai, m + i * row, xbar, row, lr, mu, nesterov);
  }
  free(xbar);
}

int dept_masked_mean(const float *phi, int64_t V, int64_t row, const DeptRows *workers, int K, float *out) {
  size_t nel = (size_t)(V * row);
  double *S = calloc(nel ? nel : 1, sizeof(double)), *W = calloc((size_t)(V ? V : 1), sizeof(double));
  float *a = malloc(sizeof(float) * (nel ? nel : 1)), *m = calloc(nel ? nel : 1, sizeof(float));
  int ok = S && W && a && m;
  if (ok) {
    memcpy(a, phi, sizeof(float) * nel);
    for (int k = 0; k < K; k++) dept_rows_add(S, W, row, &workers[k]);
    dept_rows_finish(out, a, m, S, W, V, row, 1.0, 0.0, 0);
  }
  free(S), free(W), free(a), free(m);
  return ok;
}

/* ---- a source's vocabulary --------------------------------------------------------------------------- */

int dept_vocab_rows(const Corpus *c, const int *cols, int ncols, Tokenizer *tok, int64_t V, int32_t **rows,
                    int64_t *n, char *err, size_t errlen) {
  *rows = NULL;
  *n = 0;
  char *seen = calloc((size_t)(V > 4 ? V : 4), 1);
  size_t cap = 256;
  int32_t *ids = malloc(sizeof(int32_t) * cap);
  if (!seen || !ids || V < 4) {
    free(seen), free(ids);
    snprintf(err, errlen, V < 4 ? "a table of %lld rows cannot hold the 4 special ids" : "out of memory", (long long)V);
    return 0;
  }
  memset(seen, 1, 4); /* pad, <s>, </s>, <unk> */
  for (int64_t i = 0; i < c->n; i++)
    for (int j = 0; j < ncols; j++) {
      size_t len;
      const char *s = corpus_field(c, i, cols[j], &len);
      if (len > cap) {
        int32_t *g = realloc(ids, sizeof(int32_t) * (cap = 2 * len));
        if (!g) goto oom;
        ids = g;
      }
      int64_t k = tokenizer_encode(tok, s, len, ids);
      if (k < 0) goto oom;
      for (int64_t e = 0; e < k; e++) {
        if (ids[e] < 0 || ids[e] >= V) {
          snprintf(err, errlen, "the tokenizer gives id %d, beyond the %lld rows of the embedding table",
                   (int)ids[e], (long long)V);
          free(seen), free(ids);
          return 0;
        }
        seen[ids[e]] = 1;
      }
    }
  free(ids);
  int64_t k = 0;
  for (int64_t v = 0; v < V; v++) k += seen[v];
  *rows = malloc(sizeof(int32_t) * (size_t)k);
  if (!*rows) {
    free(seen);
    snprintf(err, errlen, "out of memory");
    return 0;
  }
  for (int64_t v = 0; v < V; v++)
    if (seen[v]) (*rows)[(*n)++] = (int32_t)v;
  free(seen);
  return 1;
oom:
  free(seen), free(ids);
  snprintf(err, errlen, "out of memory");
  return 0;
}

/* ---- the rounds of a compiled graph --------------------------------------------------------------- */

int rounds_from_graph(const IrProgram *p, const IrGraph *g, RoundSync *out, int max) {
  int n = 0;
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    if (nd->op != OP_OUTER_SYNC || nd->nin < 1) continue;
    const IrNode *x = &g->nodes.v[nd->in[0]];
    if (n < max) {
      const AttrVal *grp = ir_get(nd, "group");
      RoundSync r = {x->op == OP_PARAM ? x->module : -1, x->op == OP_PARAM ? x->param : -1,
                     grp && grp->s ? grp->s : "", (int)ir_get_i(nd, "every"), (int)ir_get_i(nd, "nesterov"),
                     (int)ir_get_i(nd, "rows"), ir_get_f(nd, "lr"), ir_get_f(nd, "momentum"), 1};
      for (int k = 0; k < x->type.rank; k++) r.numel *= x->type.d[k].add;
      out[n] = r;
    }
    n++;
  }
  (void)p;
  return n;
}
