/* search.c — the Decoder (runtime/decode.h) and its row-independent searches: greedy search
 * (the likeliest allowed token at every step) and sampling (a draw from the tempered, top-k /
 * top-p truncated distribution, `nbest` samples per sentence), batched over sentences; rows
 * leave the batch as they finish. Also teacher-forced scoring and the helpers the beam
 * search shares (beam.c).
 *
 * Allowed tokens (dec_allowed): never pad or <s>; </s> not before min_len tokens; only </s>
 * as the max_len-th token. Draws: sample j of sentence id at step t uses
 * rng_uniform(rng_key(seed, id), t * nbest + j) (runtime/rng.h), so a sentence's samples do
 * not depend on the batch it is in.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "decode_internal.h"
#include "rng.h"

/* ---- shared helpers ---------------------------------------------------------------------------- */

double dec_score(const DecodeOpts *o, double logprob, int len) {
  double n = len > 0 ? len : 1;
  switch (o->lp) {
  case DEC_LP_GNMT: return logprob / pow((5.0 + n) / 6.0, o->alpha);
  case DEC_LP_AVG: return logprob / pow(n, o->alpha);
  default: return logprob;
  }
}

int dec_allowed(const DecodeOpts *o, int v, int t, int max_len) {
  if (v == DEC_PAD || v == DEC_BOS) return 0;
  if (t + 1 >= max_len) return v == DEC_EOS;
  return v != DEC_EOS || t >= o->min_len;
}

void dec_max_lens(const DecodeOpts *o, const int32_t *src, int B, int S, int *max_len) {
  for (int b = 0; b < B; b++) {
    int n = 0;
    for (int s = 0; s < S; s++) n += src[(size_t)b * S + s] != DEC_PAD;
    max_len[b] = o->max_len > 0 ? o->max_len : 2 * n + 10;
  }
}

int dec_add_hyp(DecSentence *s, int cap, const int32_t *tokens, int len, double logprob, double score) {
  if (!s->hyps && !(s->hyps = calloc((size_t)cap, sizeof(DecHyp)))) return 0;
  if (s->n >= cap) return 1;
  DecHyp *h = &s->hyps[s->n];
  h->tokens = malloc(sizeof(int32_t) * (size_t)(len + 1));
  if (!h->tokens) return 0;
  if (len) memcpy(h->tokens, tokens, sizeof(int32_t) * (size_t)len);
  h->len = len;
  h->logprob = logprob;
  h->score = score;
  s->n++;
  return 1;
}

void dec_sort_hyps(DecSentence *out, int B, int keep) {
  for (int b = 0; b < B; b++) {
    DecSentence *s = &out[b];
    for (int i = 1; i < s->n; i++) /* insertion sort: stable, n is small */
      for (int j = i; j > 0 && s->hyps[j].score > s->hyps[j - 1].score; j--) {
        DecHyp h = s->hyps[j];
        s->hyps[j] = s->hyps[j - 1];
        s->hyps[j - 1] = h;
      }
    while (s->n > keep) free(s->hyps[--s->n].tokens);
  }
}

void dec_sentences_free(DecSentence *s, int n) {
  for (int b = 0; s && b < n; b++) {
    for (int i = 0; i < s[b].n; i++) free(s[b].hyps[i].tokens);
    free(s[b].hyps);
    s[b].hyps = NULL;
    s[b].n = 0;
  }
}

/* ---- one token per row ------------------------------------------------------------------------------ */

typedef struct Cand {
  int v;
  double z;
} Cand;

static int cand_cmp(const void *a, const void *b) {
  const Cand *x = a, *y = b;
  if (x->z != y->z) return x->z > y->z ? -1 : 1;
  return x->v - y->v;
}

static int argmax(const DecodeOpts *o, const double *lp, int V, int t, int max_len) {
  int best = -1;
  for (int v = 0; v < V; v++)
    if (dec_allowed(o, v, t, max_len) && (best < 0 || lp[v] > lp[best])) best = v;
  return best;
}

/* A draw from the allowed tokens: softmax(lp / temperature), truncated to top_k, then top_p. */
static int draw(const DecodeOpts *o, const double *lp, int V, int t, int max_len, double u, Cand *c) {
  int n = 0;
  double temp = o->temperature > 0 ? o->temperature : 1.0;
  for (int v = 0; v < V; v++)
    if (dec_allowed(o, v, t, max_len) && lp[v] > -INFINITY) c[n++] = (Cand){v, lp[v] / temp};
  if (n == 0) return argmax(o, lp, V, t, max_len);
  int sorted = o->top_k > 0 || (o->top_p > 0 && o->top_p < 1);
  if (sorted) qsort(c, (size_t)n, sizeof *c, cand_cmp);
  if (o->top_k > 0 && o->top_k < n) n = o->top_k;
  double mx = -INFINITY, sum = 0;
  for (int i = 0; i < n; i++) mx = c[i].z > mx ? c[i].z : mx;
  for (int i = 0; i < n; i++) sum += (c[i].z = exp(c[i].z - mx));
  if (o->top_p > 0 && o->top_p < 1) {
    double acc = 0;
    int keep = 0;
    while (keep < n && acc < o->top_p * sum) acc += c[keep++].z;
    n = keep > 0 ? keep : 1;
    sum = acc > 0 ? acc : c[0].z;
  }
  double x = u * sum;
  for (int i = 0; i < n; i++) {
    if (x < c[i].z) return c[i].v;
    x -= c[i].z;
  }
  return c[n - 1].v;
}

/* Greedy search (nbest 1) or sampling (nbest samples): every row picks its own next token. */
static int dec_rows(Decoder *d, const int32_t *src, int B, int S, const int64_t *ids, const DecodeOpts *o,
                    DecSentence *out, char *err, size_t errlen) {
  DecScorer *sc = &d->sc;
  int N = o->sample ? (o->nbest > 0 ? o->nbest : 1) : 1, R = B * N, V = sc->V, T = 0;
  int *maxl = malloc(sizeof(int) * (size_t)(B + 1));
  if (!maxl) return snprintf(err, errlen, "out of memory"), 0;
  dec_max_lens(o, src, B, S, maxl);
  for (int b = 0; b < B; b++) T = maxl[b] > T ? maxl[b] : T;
  int stride = T + 1;
  int32_t *prefix = malloc(sizeof(int32_t) * (size_t)R * (size_t)stride);
  int *sent = malloc(sizeof(int) * (size_t)R), *samp = malloc(sizeof(int) * (size_t)R), *keep = malloc(sizeof(int) * (size_t)R);
  double *cum = calloc((size_t)R, sizeof(double)), *lp = malloc(sizeof(double) * (size_t)R * (size_t)V);
  Cand *cand = malloc(sizeof(Cand) * (size_t)V);
  int ok = prefix && sent && samp && keep && cum && lp && cand;
  if (!ok) snprintf(err, errlen, "out of memory");
  ok = ok && scorer_encode(sc, src, B, S, err, errlen);
  for (int r = 0; ok && r < R; r++) {
    sent[r] = r / N;
    samp[r] = r % N;
    keep[r] = r / N;
    prefix[(size_t)r * stride] = DEC_BOS;
  }
  if (ok && N > 1) ok = scorer_select(sc, keep, R, err, errlen);
  for (int t = 0; ok && R > 0; t++) {
    ok = scorer_step(sc, prefix, stride, t, lp, err, errlen);
    int nk = 0;
    for (int r = 0; ok && r < R; r++) {
      const double *l = lp + (size_t)r * V;
      int s = sent[r], v;
      if (o->sample) {
        uint64_t key = rng_key(o->seed, (uint64_t)(ids ? ids[s] : s));
        v = draw(o, l, V, t, maxl[s], rng_uniform(key, (uint64_t)t * (uint64_t)N + (uint64_t)samp[r]), cand);
      } else {
        v = argmax(o, l, V, t, maxl[s]);
      }
      cum[r] += l[v];
      prefix[(size_t)r * stride + t + 1] = v;
      if (v == DEC_EOS)
        ok = dec_add_hyp(&out[s], N, prefix + (size_t)r * stride + 1, t, cum[r], dec_score(o, cum[r], t + 1));
      else
        keep[nk++] = r;
    }
    if (!ok) {
      if (!err[0]) snprintf(err, errlen, "out of memory");
      break;
    }
    for (int i = 0; i < nk; i++) { /* compact: keep[i] >= i */
      int r = keep[i];
      if (r != i) memcpy(prefix + (size_t)i * stride, prefix + (size_t)r * stride, sizeof(int32_t) * (size_t)(t + 2));
      sent[i] = sent[r];
      samp[i] = samp[r];
      cum[i] = cum[r];
    }
    ok = scorer_select(sc, keep, nk, err, errlen);
    R = nk;
  }
  if (ok) dec_sort_hyps(out, B, N);
  free(maxl);
  free(prefix);
  free(sent);
  free(samp);
  free(keep);
  free(cum);
  free(lp);
  free(cand);
  return ok;
}

/* ---- the Decoder ------------------------------------------------------------------------------------- */

Decoder *decoder_new(const IrProgram *p, int encode, int step, const ParamStore *ps, CgCpu *jit, DType fdt,
                     char *err, size_t errlen) {
  Decoder *d = calloc(1, sizeof *d);
  if (!d) return snprintf(err, errlen, "out of memory"), NULL;
  if (!scorer_init(&d->sc, p, encode, step, ps, jit, fdt, err, errlen)) {
    decoder_free(d);
    return NULL;
  }
  return d;
}

void decoder_free(Decoder *d) {
  if (!d) return;
  scorer_free(&d->sc);
  free(d);
}

int decoder_vocab(const Decoder *d) { return d->sc.V; }
DecStats decoder_stats(const Decoder *d) { return d->sc.stats; }

int decoder_translate(Decoder *d, const int32_t *src, int B, int S, const int64_t *ids, const DecodeOpts *o,
                      DecSentence *out, char *err, size_t errlen) {
  err[0] = 0;
  memset(out, 0, sizeof(DecSentence) * (size_t)B);
  if (o->beam < 1 || o->nbest < 0 || (o->beam > 1 && o->nbest > o->beam) || o->min_len < 0 || o->max_len < 0 ||
      o->temperature < 0 || o->top_k < 0 || o->top_p < 0 || o->top_p > 1 || o->alpha < 0 || (o->sample && o->beam > 1) ||
      (!o->sample && o->beam == 1 && o->nbest > 1))
    return snprintf(err, errlen, "bad decoding options (beam %d, n-best %d%s)", o->beam, o->nbest,
                    o->sample && o->beam > 1 ? ", sampling with a beam" : ""), 0;
  if (B <= 0) return 1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int ok = o->beam > 1 ? dec_beam(d, src, B, S, o, out, err, errlen) : dec_rows(d, src, B, S, ids, o, out, err, errlen);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  d->sc.stats.search_seconds += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (!ok) dec_sentences_free(out, B);
  else d->sc.stats.sentences += B;
  return ok;
}

int decoder_score(Decoder *d, const int32_t *src, int B, int S, const int32_t *tgt, int T, double *logp, char *err,
                  size_t errlen) {
  DecScorer *sc = &d->sc;
  int *id = malloc(sizeof(int) * (size_t)(B + 1));
  double *lp = malloc(sizeof(double) * (size_t)B * (size_t)sc->V + 1);
  int ok = id && lp && scorer_encode(sc, src, B, S, err, errlen);
  for (int b = 0; b < B && id; b++) id[b] = b;
  for (int t = 0; ok && t < T - 1; t++) {
    ok = scorer_step(sc, tgt, T, t, lp, err, errlen) && scorer_select(sc, id, B, err, errlen);
    for (int b = 0; ok && b < B; b++)
      memcpy(logp + ((size_t)b * (T - 1) + t) * sc->V, lp + (size_t)b * sc->V, sizeof(double) * (size_t)sc->V);
  }
  if (!id || !lp) snprintf(err, errlen, "out of memory");
  free(id);
  free(lp);
  return ok;
}
