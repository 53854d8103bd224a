/* chrf.c — corpus chrF as sacreBLEU 2.x's default (metrics/chrf.py: char_order 6, word_order
 * 0, beta 2, whitespace removed, eps_smoothing off):
 *
 *   per line and order n = 1..6, over the code points with whitespace removed:
 *     hyp_n   = hypothesis n-grams (counted only when the reference has n-grams of order n)
 *     ref_n   = reference n-grams
 *     match_n = sum over n-grams of min(hyp count, ref count)
 *   with several references, the one whose sentence chrF is highest (the first on a tie);
 *   the statistics are summed over the corpus, then over the orders with hyp_n > 0 and
 *   ref_n > 0 ("effective order"): P = mean match_n/hyp_n, R = mean match_n/ref_n, and
 *   chrF = 100 * (1 + β²) P R / (β² P + R).
 */
#include <stdlib.h>

#include "eval_internal.h"

double eval_chrf_from_stats(const ChrfStats *st) {
  const double eps = 1e-16;
  double factor = EVAL_CHRF_BETA * EVAL_CHRF_BETA;
  double avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (int n = 0; n < EVAL_CHRF_ORDER; n++) {
    int64_t h = st->hyp[n], r = st->ref[n], m = st->match[n];
    double prec = h > 0 ? (double)m / (double)h : eps;
    double rec = r > 0 ? (double)m / (double)r : eps;
    if (h > 0 && r > 0) {
      avg_prec += prec;
      avg_rec += rec;
      effective_order++;
    }
  }
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  double score = (1 + factor) * avg_prec * avg_rec;
  score /= factor * avg_prec + avg_rec;
  return 100 * score;
}

/* The character n-grams of line (lowercased on request), collapsed; *ng is malloc'ed. */
static int char_grams(const char *line, const EvalOpts *o, Gram **ng) {
  StrBuf low;
  sb_init(&low);
  if (o && o->lowercase) {
    eval_lower(&low, line, strlen(line));
    if (low.failed) return sb_free(&low), -1;
    line = low.s ? low.s : "";
  }
  size_t len = strlen(line);
  uint32_t *cps = malloc(sizeof *cps * (len + 1));
  int n = 0;
  if (cps) {
    for (size_t i = 0; i < len;) {
      int k;
      uint32_t cp = eval_utf8_next(line + i, &k);
      if (!eval_is_space(cp)) cps[n++] = cp;
      i += (size_t)k;
    }
  }
  sb_free(&low);
  if (!cps) return -1;
  *ng = malloc(sizeof **ng * (size_t)(gram_room(n, EVAL_CHRF_ORDER) + 1));
  if (!*ng) return free(cps), -1;
  int m = gram_collapse(*ng, gram_extract(*ng, cps, n, EVAL_CHRF_ORDER));
  free(cps);
  return m;
}

/* Match statistics of one hypothesis against one reference (both collapsed, sorted). */
static void match_stats(const Gram *h, int nh, const Gram *r, int nr, ChrfStats *st) {
  memset(st, 0, sizeof *st);
  int64_t hyp_all[EVAL_CHRF_ORDER] = {0};
  for (int j = 0; j < nr; j++) st->ref[r[j].order - 1] += r[j].count;
  for (int i = 0, j = 0; i < nh; i++) {
    hyp_all[h[i].order - 1] += h[i].count;
    while (j < nr && gram_cmp(&r[j], &h[i]) < 0) j++;
    if (j < nr && gram_cmp(&r[j], &h[i]) == 0) st->match[h[i].order - 1] += h[i].count < r[j].count ? h[i].count : r[j].count;
  }
  /* "Don't count hits if no reference exists for that n-gram" */
  for (int n = 0; n < EVAL_CHRF_ORDER; n++) st->hyp[n] = st->ref[n] > 0 ? hyp_all[n] : 0;
}

int eval_chrf_line(const char *hyp, const char *const *refs, int nrefs, const EvalOpts *o, ChrfStats *acc) {
  Gram *hg = NULL;
  int nh = char_grams(hyp, o, &hg);
  if (nh < 0) return -1;
  ChrfStats best;
  memset(&best, 0, sizeof best);
  double best_f = -1.0;
  for (int r = 0; r < nrefs; r++) {
    if (!refs[r]) continue;
    Gram *rg = NULL;
    int nr = char_grams(refs[r], o, &rg);
    if (nr < 0) return free(hg), -1;
    ChrfStats st;
    match_stats(hg, nh, rg, nr, &st);
    free(rg);
    double f = eval_chrf_from_stats(&st);
    if (f > best_f) best_f = f, best = st;
  }
  free(hg);
  for (int n = 0; n < EVAL_CHRF_ORDER; n++) {
    acc->hyp[n] += best.hyp[n];
    acc->ref[n] += best.ref[n];
    acc->match[n] += best.match[n];
  }
  return 0;
}

int eval_chrf(const char *const *hyp, const char *const *const *refs, int nrefs, int n, const EvalOpts *o,
              ChrfScore *out) {
  memset(out, 0, sizeof *out);
  const char **line_refs = malloc(sizeof *line_refs * (size_t)(nrefs ? nrefs : 1));
  if (!line_refs) return -1;
  int counted = -2;
  for (int i = 0; i < n; i++) {
    int k = 0;
    for (int r = 0; r < nrefs; r++) {
      line_refs[r] = refs[r][i];
      k += line_refs[r] != NULL;
    }
    counted = counted == -2 || counted == k ? k : -1;
    if (eval_chrf_line(hyp[i], line_refs, nrefs, o, &out->st) != 0) {
      free(line_refs);
      return -1;
    }
  }
  free(line_refs);
  out->score = eval_chrf_from_stats(&out->st);
  out->nrefs = counted == -2 ? nrefs : counted;
  return 0;
}

void eval_chrf_signature(StrBuf *sb, int nrefs, const EvalOpts *o) {
  if (nrefs < 0) sb_puts(sb, "nrefs:var");
  else sb_printf(sb, "nrefs:%d", nrefs);
  sb_printf(sb, "|case:%s|eff:yes|nc:%d|nw:0|space:no|version:%s", o && o->lowercase ? "lc" : "mixed",
            EVAL_CHRF_ORDER, EVAL_VERSION_TAG);
}

void eval_chrf_format(StrBuf *sb, const ChrfScore *s, const EvalOpts *o, int width) {
  sb_printf(sb, "chrF%d|", EVAL_CHRF_BETA);
  eval_chrf_signature(sb, s->nrefs, o);
  sb_printf(sb, " = %.*f", width, s->score);
}
