/* batch.h — batching by token count for one task: examples tokenized once, length-bucketed
 * batches, an endless, reproducible iteration over epochs.
 *
 * Each example is tokenized once at construction: source = tokens + </s>, target = <s> +
 * tokens + </s>. Examples whose longer side exceeds max_len are dropped or truncated (both
 * counted in BatchStats; drops also give one warning in the Diag). An example's length is
 * L = max(source, target length).
 *
 * Epoch e (a pure function of (seed, e)): shuffle the examples; cut the shuffled list into
 * pools of about pool_batches * batch_tokens tokens; sort each pool by L; cut it into
 * batches greedily so that rows * max L <= batch_tokens; then shuffle the order of all the
 * epoch's batches. Every kept example is in exactly one batch per epoch. (MAMMOTH's
 * SimpleLookAheadBucketing does the same on a stream, without the shuffles.)
 *
 * A Batch is src i32[B, S] and tgt i32[B, T], right-padded with TOK_PAD, where S and T are
 * the longest source and target in the batch, so B * max(S, T) <= batch_tokens. The
 * iterator state (epoch, position) is a small struct: save it with a checkpoint, restore it,
 * and the same batches follow.
 */
#ifndef MAMC_DATA_BATCH_H
#define MAMC_DATA_BATCH_H

#include <stdint.h>

#include "corpus.h"
#include "tokenizer.h"

typedef struct BatchOpts {
  int batch_tokens; /* B * max(S, T) <= batch_tokens (required) */
  int max_len;      /* longest side allowed, <s> and </s> included (0 = 256); <= batch_tokens */
  int truncate;     /* 1: cut longer examples to max_len; 0: drop them */
  int pool_batches; /* sort pools of about this many batches' worth of tokens (0 = 100) */
  uint64_t seed;
} BatchOpts;

typedef struct BatchStats {
  int64_t examples;               /* kept */
  int64_t dropped;                /* over max_len, truncate == 0 */
  int64_t truncated;              /* over max_len, truncate == 1 */
  int64_t src_tokens, tgt_tokens; /* over the kept examples, with their special tokens */
} BatchStats;

typedef struct BatchState {
  int64_t epoch;        /* 0-based */
  int64_t position;     /* index of the next batch within the epoch */
  uint64_t fingerprint; /* of the data and options: restoring into another batcher fails */
} BatchState;

typedef struct Batch {
  int B, S, T;
  const int32_t *src; /* [B, S] */
  const int32_t *tgt; /* [B, T] */
  int64_t src_tokens; /* non-pad source tokens */
  int64_t tgt_tokens; /* non-pad target tokens excluding <s> (the tokens the loss predicts) */
  const int64_t *ids; /* [B]: the corpus example of each row */
  int64_t epoch, index, nbatches; /* this is batch `index` of the epoch's `nbatches` */
} Batch;

typedef struct Batcher Batcher;

/* Tokenize columns src_col and tgt_col of c (the tokenizers may be the same object).
 * The corpus may be freed afterwards. Dropped examples give a warning in d. NULL with a message in
 * d on bad options, when no example is left, or when out of memory. */
Batcher *batcher_new(const Corpus *c, int src_col, Tokenizer *src_tok, int tgt_col,
                     Tokenizer *tgt_tok, const BatchOpts *opts, Diag *d);
void batcher_free(Batcher *b);
BatchStats batcher_stats(const Batcher *b);

/* The next batch (endless: after an epoch's last batch comes the next epoch's first). Its
 * arrays belong to the batcher and stay valid until the next call. 0, or -1 when out of
 * memory (message in d). */
int batcher_next(Batcher *b, Batch *out, Diag *d);

BatchState batcher_state(const Batcher *b);
/* Continue from a saved state. 0, or -1 with a message in d (another data set or options,
 * or a position past the epoch's end). */
int batcher_restore(Batcher *b, BatchState s, Diag *d);

#endif
