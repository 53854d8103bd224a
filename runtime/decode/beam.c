/* beam.c — beam search over a batch of sentences (runtime/decode.h, docs/decoding.md).
 *
 * Each sentence keeps up to K = beam live hypotheses (rows, contiguous per sentence). At
 * every step its candidates are every (row, allowed token) with the running log-probability
 * cum + log p(token); the best 2K (by that sum, then by the token's own log-probability, then
 * row and token id) are walked in order: a </s> among the first K finishes a hypothesis (its
 * score: dec_score, the length penalty); other tokens continue as rows until K are alive.
 * A sentence is done when K hypotheses have finished or none is alive (at max_len only </s>
 * is allowed, so every row finishes). The n-best are the finished ones by score.
 *
 * With K = 1 this is greedy search exactly: the one candidate taken is the allowed token of
 * highest log-probability, lowest id first on ties (cum + x is monotone in x), and the first
 * </s> finishes the sentence.
 */
#include <math.h>
#include <stdlib.h>

#include "decode_internal.h"

typedef struct BCand {
  double key, lp;
  int r, v;
} BCand;

static int better(const BCand *a, const BCand *b) {
  if (a->key != b->key) return a->key > b->key;
  if (a->lp != b->lp) return a->lp > b->lp;
  if (a->r != b->r) return a->r < b->r;
  return a->v < b->v;
}

/* Inserts c into the sorted list top[0..*n) of capacity cap. */
static void offer(BCand *top, int *n, int cap, BCand c) {
  if (*n == cap && !better(&c, &top[cap - 1])) return;
  int i = *n < cap ? (*n)++ : cap - 1;
  while (i > 0 && better(&c, &top[i - 1])) {
    top[i] = top[i - 1];
    i--;
  }
  top[i] = c;
}

typedef struct Beam {
  int K, stride;
  int32_t *prefix, *next;   /* [B*K, stride] */
  int *sent, *nsent, *orig, *tok;
  double *cum, *ncum, *lp;
  BCand *top;
  int *maxl;
} Beam;

static void beam_free(Beam *b) {
  free(b->prefix);
  free(b->next);
  free(b->sent);
  free(b->nsent);
  free(b->orig);
  free(b->tok);
  free(b->cum);
  free(b->ncum);
  free(b->lp);
  free(b->top);
  free(b->maxl);
}

/* The candidates of rows [a, b) of one sentence: finishes hypotheses into s, appends the
 * continuing rows at *n. Returns 0 when out of memory. */
static int expand(Beam *bm, const DecodeOpts *o, int V, int t, int a, int b, DecSentence *s, int *n) {
  int K = bm->K, nc = 0, start = *n, alive = 0, sentence = bm->sent[a];
  for (int r = a; r < b; r++) {
    const double *l = bm->lp + (size_t)r * V;
    for (int v = 0; v < V; v++)
      if (l[v] > -INFINITY && dec_allowed(o, v, t, bm->maxl[sentence]))
        offer(bm->top, &nc, 2 * K, (BCand){bm->cum[r] + l[v], l[v], r, v});
  }
  for (int i = 0; i < nc && alive < K; i++) {
    const BCand *c = &bm->top[i];
    if (c->v == DEC_EOS) {
      if (i < K && !dec_add_hyp(s, K, bm->prefix + (size_t)c->r * bm->stride + 1, t, c->key, dec_score(o, c->key, t + 1)))
        return 0;
      continue;
    }
    bm->orig[*n] = c->r;
    bm->tok[*n] = c->v;
    bm->ncum[*n] = c->key;
    bm->nsent[*n] = sentence;
    (*n)++;
    alive++;
  }
  if (s->n >= K) *n = start; /* done: its rows stop */
  return 1;
}

int dec_beam(Decoder *d, const int32_t *src, int B, int S, const DecodeOpts *o, DecSentence *out, char *err,
             size_t errlen) {
  DecScorer *sc = &d->sc;
  Beam bm = {0};
  int K = o->beam, V = sc->V, T = 0;
  size_t rows = (size_t)B * (size_t)K;
  bm.K = K;
  bm.maxl = malloc(sizeof(int) * (size_t)(B + 1));
  if (bm.maxl) {
    dec_max_lens(o, src, B, S, bm.maxl);
    for (int b = 0; b < B; b++) T = bm.maxl[b] > T ? bm.maxl[b] : T;
  }
  bm.stride = T + 1;
  bm.prefix = malloc(sizeof(int32_t) * rows * (size_t)bm.stride);
  bm.next = malloc(sizeof(int32_t) * rows * (size_t)bm.stride);
  bm.sent = malloc(sizeof(int) * rows);
  bm.nsent = malloc(sizeof(int) * rows);
  bm.orig = malloc(sizeof(int) * rows);
  bm.tok = malloc(sizeof(int) * rows);
  bm.cum = calloc(rows, sizeof(double));
  bm.ncum = calloc(rows, sizeof(double));
  bm.lp = malloc(sizeof(double) * rows * (size_t)V);
  bm.top = malloc(sizeof(BCand) * (size_t)(2 * K));
  int ok = bm.maxl && bm.prefix && bm.next && bm.sent && bm.nsent && bm.orig && bm.tok && bm.cum && bm.ncum && bm.lp && bm.top;
  if (!ok) snprintf(err, errlen, "out of memory");
  ok = ok && scorer_encode(sc, src, B, S, err, errlen);
  int R = B;
  for (int r = 0; ok && r < R; r++) {
    bm.sent[r] = r;
    bm.prefix[(size_t)r * bm.stride] = DEC_BOS;
  }
  for (int t = 0; ok && R > 0; t++) {
    ok = scorer_step(sc, bm.prefix, bm.stride, t, bm.lp, err, errlen);
    int n = 0;
    for (int a = 0, b; ok && a < R; a = b) {
      for (b = a; b < R && bm.sent[b] == bm.sent[a]; b++) {
      }
      ok = expand(&bm, o, V, t, a, b, &out[bm.sent[a]], &n);
      if (!ok) snprintf(err, errlen, "out of memory");
    }
    for (int i = 0; ok && i < n; i++) {
      int32_t *dst = bm.next + (size_t)i * bm.stride;
      memcpy(dst, bm.prefix + (size_t)bm.orig[i] * bm.stride, sizeof(int32_t) * (size_t)(t + 1));
      dst[t + 1] = bm.tok[i];
    }
    int32_t *pt = bm.prefix;
    bm.prefix = bm.next;
    bm.next = pt;
    int *st = bm.sent;
    bm.sent = bm.nsent;
    bm.nsent = st;
    double *ct = bm.cum;
    bm.cum = bm.ncum;
    bm.ncum = ct;
    ok = ok && scorer_select(sc, bm.orig, n, err, errlen);
    R = n;
  }
  if (ok) dec_sort_hyps(out, B, o->nbest > 0 ? o->nbest : 1);
  beam_free(&bm);
  return ok;
}
