/* decode.h — decoding with the programs of the decode pass (passes/decode.h; the design and
 * every rule below are in docs/decoding.md): greedy search, beam search and sampling,
 * batched over sentences, with the encoder run once per batch and one step program run per
 * position on key/value caches and recurrent states (runtime/decode/).
 *
 * The graphs are found by name: task graph @t(a, b), encoder @t.encode(a, b), step
 * @t.step(a, b). The step graph's inputs and outputs follow the decode pass's names (tok,
 * pos, enc.N, cache.N, state.N, logits); the encoder's inputs are the task's inputs but
 * the target (the source, src[B, S] token ids).
 *
 * Scores are natural-log probabilities computed in f64 from the step's logits. Ids: 0 pad,
 * 1 <s>, 2 </s> (runtime/data/tokenizer.h); pad and <s> are never generated.
 *
 * Also the no-cache baseline (benchmarks, tests): the task graph itself, with the `logits`
 * output the decode pass adds, re-run on the whole growing prefix at every step.
 */
#ifndef MAMC_RT_DECODE_H
#define MAMC_RT_DECODE_H

#include "exec.h"

typedef enum {
  DEC_LP_AVG,   /* score = logprob / len^alpha (alpha 1: mean log-probability per token) */
  DEC_LP_GNMT,  /* score = logprob / ((5 + len) / 6)^alpha (Wu et al. 2016) */
  DEC_LP_NONE,  /* score = logprob */
} DecLenPenalty;

typedef struct DecodeOpts {
  int beam;             /* beams per sentence; 1: greedy search (or sampling) */
  int nbest;            /* hypotheses per sentence: <= beam, or samples drawn (0: 1) */
  DecLenPenalty lp;     /* how finished hypotheses are ranked (len counts </s>) */
  double alpha;
  int max_len;          /* most generated tokens, </s> included (0: 2 * source tokens + 10) */
  int min_len;          /* fewest tokens before </s> may come */
  int sample;           /* draw tokens instead of searching (beam must be 1) */
  double temperature;   /* sampling: logits / temperature (0: 1) */
  int top_k;            /* sampling: only the k likeliest tokens (0: all) */
  double top_p;         /* sampling: only the smallest set whose probability reaches p (0: 1) */
  uint64_t seed;        /* sampling: draw t of sample j of sentence id uses key (seed, id) */
} DecodeOpts;

typedef struct DecHyp {
  int32_t *tokens;      /* generated ids without </s> (malloc'd) */
  int len;
  double logprob;       /* of the tokens and the </s> */
  double score;         /* logprob under the length penalty */
} DecHyp;

typedef struct DecSentence {
  int n;                /* hypotheses, best score first */
  DecHyp *hyps;
} DecSentence;

typedef struct DecStats {
  int64_t sentences, steps, rows;  /* rows: sum over steps of the rows run */
  double encode_seconds, step_seconds, search_seconds;
} DecStats;

typedef struct Decoder Decoder;

/* A decoder on the cached programs (graphs encode and step of p) or, with encode = -1, the
 * no-cache baseline on task graph `step`. ps holds the parameters (it must outlive the
 * decoder); jit: a CPU JIT session for fused groups, or NULL; fdt: DT_F32 or DT_F64.
 * NULL with a message in err. */
Decoder *decoder_new(const IrProgram *p, int encode, int step, const ParamStore *ps, CgCpu *jit, DType fdt,
                     char *err, size_t errlen);
void decoder_free(Decoder *d);
int decoder_vocab(const Decoder *d);   /* V: the logits' width */
DecStats decoder_stats(const Decoder *d);

/* Translates B sentences: src[B, S] (ids right-padded with 0, each sentence ending with
 * </s>). ids[B]: each sentence's number in the whole input (sampling draws depend on it, not
 * on batching; NULL: 0..B-1). out[B] receives the hypotheses (dec_sentences_free). 1 ok, 0
 * with err (bad options, or an executor error). */
int decoder_translate(Decoder *d, const int32_t *src, int B, int S, const int64_t *ids, const DecodeOpts *o,
                      DecSentence *out, char *err, size_t errlen);
void dec_sentences_free(DecSentence *s, int n);

/* Teacher forcing through the decoding path: logp[b, t, v] = log p(v | src[b], tgt[b, :t+1])
 * for t < T-1, as the search sees it step by step (tgt[B, T] starts with <s>). 1 ok, 0 with err. */
int decoder_score(Decoder *d, const int32_t *src, int B, int S, const int32_t *tgt, int T, double *logp, char *err,
                  size_t errlen);

/* ---- text ------------------------------------------------------------------------------------ */
struct Tokenizer;

typedef struct DecTextHyp {
  char *text;           /* one line of UTF-8 (invalid bytes as U+FFFD, line breaks as spaces) */
  double logprob, score;
  int tokens;           /* generated tokens, </s> excluded */
} DecTextHyp;

/* Translates lines[0..n) (tokenised with src_tok, + </s>) in batches of `batch` sentences of
 * similar length (0: 32); out[i * nbest + k] receives line i's k-th best (text NULL where a
 * line has fewer), detokenised with tgt_tok. Line i's sampling id is i. 1 ok, 0 with err. */
int dec_translate_text(Decoder *d, struct Tokenizer *src_tok, const struct Tokenizer *tgt_tok, const char *const *lines,
                       int n, const DecodeOpts *o, int batch, DecTextHyp *out, char *err, size_t errlen);
void dec_text_free(DecTextHyp *h, int n);

/* log-softmax (f64) of row `row` of logits viewed as [rows, V] (f32 or f64 data) into out[V]. */
void dec_log_softmax(const Tensor *logits, int64_t row, int V, double *out);

/* The length penalty applied to a hypothesis of len tokens (</s> included). */
double dec_score(const DecodeOpts *o, double logprob, int len);

/* The encoder and step graphs of task graph `graph` (by name; -1 when absent). 1 if both. */
int dec_find_graphs(const IrProgram *p, int graph, int *encode, int *step);

/* Fills ps (initialised here for every module of p, stored in fdt) from a checkpoint: a
 * step-N folder or a checkpoint folder (its latest), one <module>.safetensors per module
 * instance (runtime/trainer.h). Only the modules p's graphs read are loaded; a missing one is
 * an error naming it. 1 ok, 0 with err (ps left empty). */
int dec_load_checkpoint(ParamStore *ps, const IrProgram *p, const char *path, DType fdt, char *err, size_t errlen);

#endif
