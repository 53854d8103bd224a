/* eval.h — corpus BLEU and chrF as sacreBLEU 2.x computes them by default, over arrays of
 * UTF-8 lines (the CLI's `mamc eval`, and the trainer's validation BLEU).
 *
 *   BLEU: 13a tokenisation (mteval-v13a, sacreBLEU's tokenizer_13a), n-grams up to 4,
 *         clipped counts against the per-n-gram maximum over the references, the closest
 *         reference length (ties: the shorter), brevity penalty, `exp` smoothing.
 *   chrF: character n-grams 1..6 of each line with whitespace removed, β = 2, no word
 *         n-grams, the reference with the best sentence F-score when there are several,
 *         and the corpus score from the averaged precision and recall over the orders that
 *         occur (sacreBLEU's `eff:yes`, the 2.x default).
 *
 * Lines are NUL-terminated, valid UTF-8 (the CLI checks), with the trailing whitespace
 * already removed or not (it is removed here, as sacreBLEU does). "Whitespace" is Python's
 * str.split() set (ASCII whitespace, U+001C..1F, U+0085, U+00A0, U+1680, U+2000..200A,
 * U+2028/9, U+202F, U+205F, U+3000); lowercasing is Python's str.lower() (Unicode 14, with
 * the final-sigma rule).
 *
 * No global state; functions that allocate return -1 when malloc fails.
 */
#ifndef MAMC_EVAL_H
#define MAMC_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "support.h"

#define EVAL_BLEU_ORDER 4
#define EVAL_CHRF_ORDER 6
#define EVAL_CHRF_BETA 2
/* What the signatures say: the sacreBLEU version whose defaults these follow, and ours. */
#define EVAL_SACREBLEU_VERSION "2.6.0"
#define EVAL_VERSION_TAG EVAL_SACREBLEU_VERSION "-mamc"

typedef struct EvalOpts {
  int lowercase; /* case:lc */
} EvalOpts;

/* ---- BLEU -------------------------------------------------------------------------------- */
typedef struct BleuStats {
  int64_t hyp_len, ref_len;              /* tokens; ref_len sums the closest reference lengths */
  int64_t correct[EVAL_BLEU_ORDER];      /* clipped n-gram matches, n = 1..4 */
  int64_t total[EVAL_BLEU_ORDER];        /* hypothesis n-grams */
} BleuStats;

typedef struct BleuScore {
  double score;                          /* 0..100 */
  double precisions[EVAL_BLEU_ORDER];    /* percentages, smoothed as sacreBLEU reports them */
  double bp, ratio;                      /* brevity penalty; hyp_len / ref_len (0 without refs) */
  BleuStats st;
  int nrefs;                             /* references per line; -1 when it varies */
} BleuScore;

/* Corpus BLEU of n hypotheses against nrefs reference sets: refs[r][i] is reference r of
 * line i (NULL: line i has no reference r, as sacreBLEU's None). 0, or -1 out of memory. */
int eval_bleu(const char *const *hyp, const char *const *const *refs, int nrefs, int n, const EvalOpts *o,
              BleuScore *out);
/* The statistics of one line (added to *acc), for callers that aggregate themselves. */
int eval_bleu_line(const char *hyp, const char *const *refs, int nrefs, const EvalOpts *o, BleuStats *acc);
/* The score from summed statistics (sacreBLEU's compute_bleu, smooth_method='exp'). */
void eval_bleu_from_stats(const BleuStats *st, BleuScore *out);

/* ---- chrF -------------------------------------------------------------------------------- */
typedef struct ChrfStats {
  int64_t hyp[EVAL_CHRF_ORDER], ref[EVAL_CHRF_ORDER], match[EVAL_CHRF_ORDER];
} ChrfStats;

typedef struct ChrfScore {
  double score; /* 0..100 */
  ChrfStats st;
  int nrefs;
} ChrfScore;

int eval_chrf(const char *const *hyp, const char *const *const *refs, int nrefs, int n, const EvalOpts *o,
              ChrfScore *out);
int eval_chrf_line(const char *hyp, const char *const *refs, int nrefs, const EvalOpts *o, ChrfStats *acc);
/* F-score (0..100) of summed statistics: β = 2, effective-order averaging. */
double eval_chrf_from_stats(const ChrfStats *st);

/* ---- signatures (sacreBLEU's format, with our version tag) ------------------------------- */
/* "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0-mamc" into sb */
void eval_bleu_signature(StrBuf *sb, int nrefs, const EvalOpts *o);
/* "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0-mamc" */
void eval_chrf_signature(StrBuf *sb, int nrefs, const EvalOpts *o);
/* "BLEU|<signature> = 41.38 93.3/69.2/45.5/22.2 (BP = 0.819 ratio = 0.833 hyp_len = 15 ref_len = 18)"
 * with `width` decimals for the score (sacreBLEU's text format). */
void eval_bleu_format(StrBuf *sb, const BleuScore *s, const EvalOpts *o, int width);
void eval_chrf_format(StrBuf *sb, const ChrfScore *s, const EvalOpts *o, int width);

/* ---- text processing (tok13a.c, unicode.c) ----------------------------------------------- */
/* 13a tokenisation of one line (after optional lowercasing and removing trailing whitespace),
 * tokens separated by single spaces, appended to sb. */
void eval_tok13a(StrBuf *sb, const char *line, const EvalOpts *o);

/* Decodes the code point at s (valid UTF-8 assumed; an invalid byte decodes as itself),
 * stores its length in *len. */
uint32_t eval_utf8_next(const char *s, int *len);
/* Appends cp as UTF-8. */
void eval_utf8_put(StrBuf *sb, uint32_t cp);
/* Python's str.isspace() (the set str.split() splits on). */
int eval_is_space(uint32_t cp);
/* Python's str.lower() of s[0..len), appended (U+0130 becomes two code points; Σ at the end
 * of a word becomes ς). */
void eval_lower(StrBuf *sb, const char *s, size_t len);
/* Length of line without Python-whitespace at its end (str.rstrip()). */
size_t eval_rstrip_len(const char *line, size_t len);

#endif
