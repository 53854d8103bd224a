/* batch.c — tokenizing a corpus once and cutting it into length-bucketed token batches,
 * epoch after epoch, reproducibly (see batch.h). All randomness comes from rng.h keyed by
 * (seed, epoch), so an epoch's plan can be rebuilt from the state alone. */
#include "batch.h"
#include "hash.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

typedef struct PlanBatch {
  int64_t start; /* rows are order[start .. start + count) */
  int32_t count;
} PlanBatch;

struct Batcher {
  BatchOpts o;
  BatchStats stats;
  uint64_t key, fingerprint;
  /* examples, in corpus order; tokens of example i at tok + toff[i]: source then target */
  int64_t n;
  int64_t *cid; /* corpus example index */
  uint64_t *toff;
  int32_t *slen, *tlen;
  int32_t *tok;
  size_t ntok, captok;
  /* the plan of epoch plan_epoch */
  int64_t plan_epoch;
  int64_t *order;    /* [n] example indices */
  uint64_t *sortkey; /* scratch [n] */
  PlanBatch *batches;
  int64_t nbatches, capbatches;
  /* iterator */
  int64_t epoch, pos;
  /* the current batch */
  int32_t *src, *tgt;
  int64_t *ids;
};

static int push_tokens(Batcher *b, const int32_t *t, size_t n) {
  if (b->ntok + n > b->captok) {
    size_t nc = b->captok ? b->captok : 1 << 16;
    while (nc < b->ntok + n) nc *= 2;
    int32_t *nt = realloc(b->tok, nc * sizeof *nt);
    if (!nt) return 0;
    b->tok = nt;
    b->captok = nc;
  }
  memcpy(b->tok + b->ntok, t, n * sizeof *t);
  b->ntok += n;
  return 1;
}

void batcher_free(Batcher *b) {
  if (!b) return;
  free(b->cid);
  free(b->toff);
  free(b->slen);
  free(b->tlen);
  free(b->tok);
  free(b->order);
  free(b->sortkey);
  free(b->batches);
  free(b->src);
  free(b->tgt);
  free(b->ids);
  free(b);
}

/* Tokenize every example; returns 0 when out of memory. */
static int tokenize_all(Batcher *b, const Corpus *c, int src_col, Tokenizer *st, int tgt_col,
                        Tokenizer *tt) {
  size_t cap = 0;
  int32_t *scratch = NULL;
  int ok = 0, max = b->o.max_len;
  for (int64_t i = 0; i < c->n; i++) {
    size_t sl, tl;
    const char *s = corpus_field(c, i, src_col, &sl), *t = corpus_field(c, i, tgt_col, &tl);
    size_t need = sl + tl + 3;
    if (need > cap) {
      size_t nc = cap ? cap : 1024;
      while (nc < need) nc *= 2;
      int32_t *ns = realloc(scratch, nc * sizeof *ns);
      if (!ns) goto out;
      scratch = ns;
      cap = nc;
    }
    int64_t ns_ = tokenizer_encode(st, s, sl, scratch);
    if (ns_ < 0) goto out;
    scratch[ns_++] = TOK_EOS; /* source: tokens </s> */
    int32_t *tg = scratch + ns_;
    tg[0] = TOK_BOS; /* target: <s> tokens </s> */
    int64_t nt = tokenizer_encode(tt, t, tl, tg + 1);
    if (nt < 0) goto out;
    nt += 2;
    tg[nt - 1] = TOK_EOS;
    if (ns_ > max || nt > max) {
      if (!b->o.truncate) {
        b->stats.dropped++;
        continue;
      }
      b->stats.truncated++;
      if (ns_ > max) {
        ns_ = max;
        scratch[ns_ - 1] = TOK_EOS;
      }
      if (nt > max) {
        nt = max;
        tg[nt - 1] = TOK_EOS;
      }
    }
    b->cid[b->n] = i;
    b->toff[b->n] = b->ntok;
    b->slen[b->n] = (int32_t)ns_;
    b->tlen[b->n] = (int32_t)nt;
    if (!push_tokens(b, scratch, (size_t)ns_) || !push_tokens(b, tg, (size_t)nt)) goto out;
    b->stats.src_tokens += ns_;
    b->stats.tgt_tokens += nt;
    b->n++;
  }
  b->stats.examples = b->n;
  ok = 1;
out:
  free(scratch);
  return ok;
}

Batcher *batcher_new(const Corpus *c, int src_col, Tokenizer *src_tok, int tgt_col,
                     Tokenizer *tgt_tok, const BatchOpts *opts, Diag *d) {
  BatchOpts o = *opts;
  if (!o.max_len) o.max_len = 256;
  if (!o.pool_batches) o.pool_batches = 100;
  if (src_col < 0 || src_col >= c->ncols || tgt_col < 0 || tgt_col >= c->ncols) {
    diag_plain(d, "batching columns %d and %d: the corpus has %d columns", src_col, tgt_col,
               c->ncols);
    return NULL;
  }
  if (o.max_len < 3 || o.batch_tokens < o.max_len || o.pool_batches < 1) {
    diag_plain(d,
               "batching: need 3 <= max_len (%d) <= batch_tokens (%d) and pool_batches (%d) >= 1",
               o.max_len, o.batch_tokens, o.pool_batches);
    return NULL;
  }
  Batcher *b = calloc(1, sizeof *b);
  if (!b) goto oom;
  b->o = o;
  b->plan_epoch = -1;
  size_t n = c->n ? (size_t)c->n : 1;
  b->cid = malloc(n * sizeof *b->cid);
  b->toff = malloc(n * sizeof *b->toff);
  b->slen = malloc(n * sizeof *b->slen);
  b->tlen = malloc(n * sizeof *b->tlen);
  b->src = malloc((size_t)o.batch_tokens * sizeof *b->src);
  b->tgt = malloc((size_t)o.batch_tokens * sizeof *b->tgt);
  b->ids = malloc((size_t)o.batch_tokens * sizeof *b->ids);
  if (!b->cid || !b->toff || !b->slen || !b->tlen || !b->src || !b->tgt || !b->ids) goto oom;
  if (!tokenize_all(b, c, src_col, src_tok, tgt_col, tgt_tok)) goto oom;
  if (b->n == 0) {
    diag_plain(d, "batching: no example is left: all %lld are longer than max_len %d",
               (long long)c->n, o.max_len);
    batcher_free(b);
    return NULL;
  }
  b->order = malloc((size_t)b->n * sizeof *b->order);
  b->sortkey = malloc((size_t)b->n * sizeof *b->sortkey);
  if (!b->order || !b->sortkey) goto oom;
  b->key = rng_key(o.seed, rng_hash_str("mamc.data.batch"));
  uint64_t f = rng_mix(o.seed);
  const uint64_t parts[] = {(uint64_t)b->n,
                            (uint64_t)o.batch_tokens,
                            (uint64_t)o.max_len,
                            (uint64_t)o.truncate,
                            (uint64_t)o.pool_batches,
                            (uint64_t)b->stats.src_tokens,
                            (uint64_t)b->stats.tgt_tokens};
  for (int i = 0; i < COUNT_OF(parts); i++) f = rng_key(f, parts[i]);
  b->fingerprint = rng_key(f, data_hash_bytes((const char *)b->tok, b->ntok * sizeof *b->tok));
  SrcLoc none = {0};
  if (b->stats.dropped)
    diag_warning(d, none, "batching: dropped %lld of %lld examples longer than max_len %d tokens",
                 (long long)b->stats.dropped, (long long)c->n, o.max_len);
  return b;
oom:
  diag_plain(d, "out of memory while tokenizing a corpus of %lld examples", (long long)c->n);
  batcher_free(b);
  return NULL;
}

BatchStats batcher_stats(const Batcher *b) { return b->stats; }

/* ---- the plan of one epoch -------------------------------------------------------------- */

static inline int32_t ex_len(const Batcher *b, int64_t i) {
  return b->slen[i] > b->tlen[i] ? b->slen[i] : b->tlen[i];
}

/* A uniform integer in [0, m) from counter ctr of key. */
static inline int64_t draw(uint64_t key, uint64_t ctr, int64_t m) {
  return (int64_t)(rng_uniform(key, ctr) * (double)m);
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
  return a < c ? -1 : a > c;
}

static int build_plan(Batcher *b, int64_t epoch) {
  uint64_t ek = rng_key(b->key, (uint64_t)epoch);
  int64_t n = b->n, *order = b->order;
  for (int64_t i = 0; i < n; i++) order[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    int64_t j = draw(ek, (uint64_t)i, i + 1);
    int64_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  b->nbatches = 0;
  int64_t budget = (int64_t)b->o.pool_batches * b->o.batch_tokens;
  for (int64_t i = 0, j; i < n; i = j) {
    int64_t sum = 0;
    for (j = i; j < n && sum < budget; j++) sum += ex_len(b, order[j]);
    /* sort the pool by length, keeping the shuffled order among equal lengths: key = length
     * in the top bits, the position in the pool in the low 40 bits (n < 2^40) */
    for (int64_t k = i; k < j; k++)
      b->sortkey[k - i] = (uint64_t)ex_len(b, order[k]) << 40 | (uint64_t)(k - i);
    qsort(b->sortkey, (size_t)(j - i), sizeof *b->sortkey, cmp_u64);
    for (int64_t k = i; k < j; k++)
      b->sortkey[k - i] = (uint64_t)order[i + (int64_t)(b->sortkey[k - i] & ((1ull << 40) - 1))];
    for (int64_t k = i; k < j; k++) order[k] = (int64_t)b->sortkey[k - i];
    for (int64_t k = i; k < j;) {
      int64_t start = k, maxl = 0;
      while (k < j) {
        int64_t l = ex_len(b, order[k]), m = l > maxl ? l : maxl;
        if ((k - start + 1) * m > b->o.batch_tokens) break;
        maxl = m;
        k++;
      }
      if (b->nbatches == b->capbatches) {
        int64_t nc = b->capbatches ? 2 * b->capbatches : 256;
        PlanBatch *nb = realloc(b->batches, (size_t)nc * sizeof *nb);
        if (!nb) return 0;
        b->batches = nb;
        b->capbatches = nc;
      }
      b->batches[b->nbatches++] = (PlanBatch){start, (int32_t)(k - start)};
    }
  }
  uint64_t bk = rng_key(ek, rng_hash_str("batch order"));
  for (int64_t i = b->nbatches - 1; i > 0; i--) {
    int64_t j = draw(bk, (uint64_t)i, i + 1);
    PlanBatch t = b->batches[i];
    b->batches[i] = b->batches[j];
    b->batches[j] = t;
  }
  b->plan_epoch = epoch;
  return 1;
}

static int ensure_plan(Batcher *b, int64_t epoch, Diag *d) {
  if (b->plan_epoch == epoch) return 0;
  if (build_plan(b, epoch)) return 0;
  b->plan_epoch = -1;
  diag_plain(d, "out of memory planning epoch %lld", (long long)epoch);
  return -1;
}

/* ---- iteration -------------------------------------------------------------------------- */

int batcher_next(Batcher *b, Batch *out, Diag *d) {
  if (ensure_plan(b, b->epoch, d)) return -1;
  const PlanBatch *pb = &b->batches[b->pos];
  int B = pb->count, S = 0, T = 0;
  const int64_t *rows = b->order + pb->start;
  for (int r = 0; r < B; r++) {
    if (b->slen[rows[r]] > S) S = b->slen[rows[r]];
    if (b->tlen[rows[r]] > T) T = b->tlen[rows[r]];
  }
  memset(b->src, 0, (size_t)B * (size_t)S * sizeof *b->src);
  memset(b->tgt, 0, (size_t)B * (size_t)T * sizeof *b->tgt);
  int64_t ns = 0, nt = 0;
  for (int r = 0; r < B; r++) {
    int64_t e = rows[r];
    const int32_t *tok = b->tok + b->toff[e];
    memcpy(b->src + (size_t)r * S, tok, (size_t)b->slen[e] * sizeof *tok);
    memcpy(b->tgt + (size_t)r * T, tok + b->slen[e], (size_t)b->tlen[e] * sizeof *tok);
    b->ids[r] = b->cid[e];
    ns += b->slen[e];
    nt += b->tlen[e] - 1;
  }
  *out = (Batch){B, S, T, b->src, b->tgt, ns, nt, b->ids, b->epoch, b->pos, b->nbatches};
  if (++b->pos == b->nbatches) {
    b->epoch++;
    b->pos = 0;
  }
  return 0;
}

BatchState batcher_state(const Batcher *b) {
  return (BatchState){b->epoch, b->pos, b->fingerprint};
}

int batcher_restore(Batcher *b, BatchState s, Diag *d) {
  if (s.fingerprint != b->fingerprint) {
    diag_plain(d,
               "cannot restore the data position: it was saved for another corpus, tokenizer "
               "or batching options (fingerprint %016llx, expected %016llx)",
               (unsigned long long)s.fingerprint, (unsigned long long)b->fingerprint);
    return -1;
  }
  if (s.epoch < 0 || s.position < 0) {
    diag_plain(d, "cannot restore the data position: epoch %lld, position %lld", (long long)s.epoch,
               (long long)s.position);
    return -1;
  }
  if (ensure_plan(b, s.epoch, d)) return -1;
  if (s.position >= b->nbatches) {
    diag_plain(d, "cannot restore the data position: epoch %lld has %lld batches, not %lld",
               (long long)s.epoch, (long long)b->nbatches, (long long)s.position + 1);
    return -1;
  }
  b->epoch = s.epoch;
  b->pos = s.position;
  return 0;
}
