/* decode_internal.h — what the files of runtime/decode/ share: the scorer (scorer.c), which
 * turns "the rows' prefixes so far" into next-token log-probabilities, cached (encoder once,
 * one step program per position, caches reordered with the rows) or not (the whole task graph
 * on the growing prefix); and the searches (search.c: greedy and sampling; beam.c).
 *
 * Rows: the scorer holds one row per live hypothesis. After scorer_encode there is one row
 * per sentence; after each scorer_step, scorer_select(orig) must say which rows the next step
 * runs (orig[i]: the row the new row i continues), folding the step's new cache rows and
 * states in; a select before the first step (sampling several per sentence) just copies rows.
 */
#ifndef MAMC_RT_DECODE_INTERNAL_H
#define MAMC_RT_DECODE_INTERNAL_H

#include "../decode.h"

enum { DEC_PAD = 0, DEC_BOS = 1, DEC_EOS = 2 };

typedef enum { IN_TOK, IN_POS, IN_ENC, IN_CACHE, IN_STATE, IN_SRC, IN_TGT } DecInKind;

typedef struct DecScorer {
  const IrProgram *p;
  const ParamStore *ps;
  InterpCx cx;
  int nocache;
  Exec enc, step;           /* nocache: step runs the task graph */
  int has_enc, has_step;
  int32_t bsym;             /* the batch symbol (tok's or tgt's axis 0) */
  int V;
  int nin;                  /* step graph inputs */
  DecInKind *kind;          /* per step input */
  int *index;               /* per step input: its enc / cache / state number */
  int *cache_axis;          /* per cache: the axis of the cached positions */
  int nenc, ncache, nstate;
  int *out_of;              /* per cache, then per state: the step output giving its next rows */
  int logits_out;
  int *enc_batched;         /* per encoder value: rows along axis 0 */
  /* the batch */
  int nsent, rows, S;
  int *row_sent;            /* per row: its sentence */
  Tensor *enc_base;         /* per encoder value: one row per sentence */
  Tensor *enc_rows;         /* per encoder value: one row per current row (batched ones) */
  Tensor *cache, *state;
  int pending;              /* the last step's new rows are still in the step's outputs */
  int32_t *src;             /* nocache: [rows, S] */
  Tensor *in;               /* scratch: the step's inputs */
  int64_t *symvals;
  DecStats stats;
} DecScorer;

int scorer_init(DecScorer *sc, const IrProgram *p, int encode, int step, const ParamStore *ps, CgCpu *jit, DType fdt,
                char *err, size_t errlen);
void scorer_free(DecScorer *sc);
/* Runs the encoder on src[B, S]: one row per sentence, empty caches, zero states. */
int scorer_encode(DecScorer *sc, const int32_t *src, int B, int S, char *err, size_t errlen);
/* logp[rows, V] for the token after prefix[r, 0..t] (row r at prefix + r * stride). */
int scorer_step(DecScorer *sc, const int32_t *prefix, int stride, int t, double *logp, char *err, size_t errlen);
int scorer_select(DecScorer *sc, const int *orig, int n, char *err, size_t errlen);

/* Whether token v may come after t generated tokens (max_len: this sentence's limit). */
int dec_allowed(const DecodeOpts *o, int v, int t, int max_len);
/* Each sentence's max_len: the option, or 2 * its source tokens + 10. */
void dec_max_lens(const DecodeOpts *o, const int32_t *src, int B, int S, int *max_len);
/* Appends a finished hypothesis to s (tokens copied). 0 when out of memory. */
int dec_add_hyp(DecSentence *s, int cap, const int32_t *tokens, int len, double logprob, double score);
/* Sorts each sentence's hypotheses by score (best first, stable) and keeps the first keep. */
void dec_sort_hyps(DecSentence *out, int B, int keep);

int dec_beam(Decoder *d, const int32_t *src, int B, int S, const DecodeOpts *o, DecSentence *out, char *err,
             size_t errlen);

struct Decoder {
  DecScorer sc;
};

#endif
