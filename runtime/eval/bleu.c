/* bleu.c — corpus BLEU as sacreBLEU 2.x's default (metrics/bleu.py): 13a tokens, n-grams
 * 1..4 clipped by the largest count in any one reference, the closest reference length
 * (ties go to the shorter), statistics summed over the corpus, then
 *
 *   BP = 1 if hyp_len >= ref_len, else exp(1 - ref_len/hyp_len) (0 when hyp_len = 0)
 *   p_n = 100 * correct_n / total_n; when correct_n = 0, `exp` smoothing: the k-th such
 *         order gets 100 / (2^k * total_n); orders from the first with total_n = 0 on are 0
 *   BLEU = BP * exp(mean_n log p_n)   (log 0 taken as -9999999999, so such a BLEU is 0)
 *   BLEU = 0 when no n-gram of any order matches.
 */
#include <math.h>
#include <stdlib.h>

#include "eval_internal.h"

/* ---- tokens to ids ----------------------------------------------------------------------- */
typedef struct Tok {
  const char *s;
  int len;
  int side, pos; /* side 0: hypothesis, 1..: references */
} Tok;

static int tok_cmp(const void *pa, const void *pb) {
  const Tok *a = pa, *b = pb;
  int n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, (size_t)n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

static int count_tokens(const StrBuf *t) {
  if (!t->len) return 0;
  int n = 1;
  for (size_t i = 0; i < t->len; i++) n += t->s[i] == ' ';
  return n;
}

/* ---- one line ---------------------------------------------------------------------------- */
int eval_bleu_line(const char *hyp, const char *const *refs, int nrefs, const EvalOpts *o, BleuStats *acc) {
  int nside = 1;
  for (int r = 0; r < nrefs; r++) nside += refs[r] != NULL;
  StrBuf *text = calloc((size_t)nside, sizeof *text);
  int *ntok = calloc((size_t)nside, sizeof *ntok);
  uint32_t **ids = calloc((size_t)nside, sizeof *ids);
  Tok *toks = NULL;
  Gram *hg = NULL, *rg = NULL;
  int rc = -1;
  if (!text || !ntok || !ids) goto out;

  /* tokenise every side */
  int total = 0;
  for (int s = 0, r = 0; s < nside; s++) {
    sb_init(&text[s]);
    const char *line = hyp;
    if (s > 0) {
      while (!refs[r]) r++;
      line = refs[r++];
    }
    eval_tok13a(&text[s], line, o);
    if (text[s].failed) goto out;
    ntok[s] = count_tokens(&text[s]);
    total += ntok[s];
  }

  /* the same id for the same token string on every side */
  toks = malloc(sizeof *toks * (size_t)(total ? total : 1));
  if (!toks) goto out;
  int m = 0;
  for (int s = 0; s < nside; s++) {
    ids[s] = malloc(sizeof **ids * (size_t)(ntok[s] ? ntok[s] : 1));
    if (!ids[s]) goto out;
    const char *p = text[s].s;
    for (int i = 0; i < ntok[s]; i++) {
      const char *e = strchr(p, ' ');
      int len = e ? (int)(e - p) : (int)strlen(p);
      toks[m++] = (Tok){p, len, s, i};
      p += len + 1;
    }
  }
  qsort(toks, (size_t)total, sizeof *toks, tok_cmp);
  for (int i = 0, id = 0; i < total; i++) {
    if (i > 0 && tok_cmp(&toks[i - 1], &toks[i]) != 0) id++;
    ids[toks[i].side][toks[i].pos] = (uint32_t)id;
  }

  /* reference n-grams: the largest count of each over the references */
  int rroom = 0;
  for (int s = 1; s < nside; s++) rroom += gram_room(ntok[s], EVAL_BLEU_ORDER);
  rg = malloc(sizeof *rg * (size_t)(rroom ? rroom : 1));
  hg = malloc(sizeof *hg * (size_t)(gram_room(ntok[0], EVAL_BLEU_ORDER) + 1));
  if (!rg || !hg) goto out;
  int nr = 0;
  for (int s = 1; s < nside; s++) {
    int k = gram_extract(rg + nr, ids[s], ntok[s], EVAL_BLEU_ORDER);
    nr += gram_collapse(rg + nr, k); /* counts within one reference */
  }
  nr = gram_collapse_max(rg, nr);
  int nh = gram_collapse(hg, gram_extract(hg, ids[0], ntok[0], EVAL_BLEU_ORDER));

  /* closest reference length; on a tie the shorter */
  int64_t hyp_len = ntok[0], ref_len = 0;
  for (int s = 1, best = -1; s < nside; s++) {
    int64_t d = llabs(hyp_len - ntok[s]);
    if (best < 0 || d < best || (d == best && ntok[s] < ref_len)) best = (int)d, ref_len = ntok[s];
  }
  acc->hyp_len += hyp_len;
  acc->ref_len += ref_len;

  /* clipped matches: both lists are sorted, walk them together */
  for (int i = 0, j = 0; i < nh; i++) {
    const Gram *h = &hg[i];
    acc->total[h->order - 1] += h->count;
    while (j < nr && gram_cmp(&rg[j], h) < 0) j++;
    if (j < nr && gram_cmp(&rg[j], h) == 0)
      acc->correct[h->order - 1] += h->count < rg[j].count ? h->count : rg[j].count;
  }
  rc = 0;
out:
  for (int s = 0; text && s < nside; s++) sb_free(&text[s]);
  for (int s = 0; ids && s < nside; s++) free(ids[s]);
  free(text);
  free(ntok);
  free(ids);
  free(toks);
  free(hg);
  free(rg);
  return rc;
}

/* ---- the corpus score -------------------------------------------------------------------- */
static double my_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

void eval_bleu_from_stats(const BleuStats *st, BleuScore *out) {
  memset(out->precisions, 0, sizeof out->precisions);
  out->st = *st;
  out->bp = 1.0;
  if (st->hyp_len < st->ref_len) out->bp = st->hyp_len > 0 ? exp(1.0 - (double)st->ref_len / (double)st->hyp_len) : 0.0;
  out->ratio = st->ref_len ? (double)st->hyp_len / (double)st->ref_len : 0.0;
  out->score = 0.0;
  int any = 0;
  for (int n = 0; n < EVAL_BLEU_ORDER; n++) any |= st->correct[n] != 0;
  if (!any) return; /* sacreBLEU #141: no matches at all */
  double smooth = 1.0;
  for (int n = 0; n < EVAL_BLEU_ORDER; n++) {
    if (st->total[n] == 0) break;
    if (st->correct[n] == 0) {
      smooth *= 2;
      out->precisions[n] = 100.0 / (smooth * (double)st->total[n]);
    } else {
      out->precisions[n] = 100.0 * (double)st->correct[n] / (double)st->total[n];
    }
  }
  double sum = 0.0;
  for (int n = 0; n < EVAL_BLEU_ORDER; n++) sum += my_log(out->precisions[n]);
  out->score = out->bp * exp(sum / EVAL_BLEU_ORDER);
}

int eval_bleu(const char *const *hyp, const char *const *const *refs, int nrefs, int n, const EvalOpts *o,
              BleuScore *out) {
  BleuStats st;
  memset(&st, 0, sizeof st);
  const char **line_refs = malloc(sizeof *line_refs * (size_t)(nrefs ? nrefs : 1));
  if (!line_refs) return -1;
  int counted = -2; /* references per line: the same on every line, or -1 */
  for (int i = 0; i < n; i++) {
    int k = 0;
    for (int r = 0; r < nrefs; r++) {
      line_refs[r] = refs[r][i];
      k += line_refs[r] != NULL;
    }
    counted = counted == -2 || counted == k ? k : -1;
    if (eval_bleu_line(hyp[i], line_refs, nrefs, o, &st) != 0) {
      free(line_refs);
      return -1;
    }
  }
  free(line_refs);
  eval_bleu_from_stats(&st, out);
  out->nrefs = counted == -2 ? nrefs : counted;
  return 0;
}

/* ---- printing ---------------------------------------------------------------------------- */
static void put_nrefs(StrBuf *sb, int nrefs) {
  if (nrefs < 0) sb_puts(sb, "nrefs:var");
  else sb_printf(sb, "nrefs:%d", nrefs);
}

void eval_bleu_signature(StrBuf *sb, int nrefs, const EvalOpts *o) {
  put_nrefs(sb, nrefs);
  sb_printf(sb, "|case:%s|eff:no|tok:13a|smooth:exp|version:%s", o && o->lowercase ? "lc" : "mixed",
            EVAL_VERSION_TAG);
}

void eval_bleu_format(StrBuf *sb, const BleuScore *s, const EvalOpts *o, int width) {
  sb_puts(sb, "BLEU|");
  eval_bleu_signature(sb, s->nrefs, o);
  sb_printf(sb, " = %.*f ", width, s->score);
  for (int n = 0; n < EVAL_BLEU_ORDER; n++) sb_printf(sb, "%s%.1f", n ? "/" : "", s->precisions[n]);
  sb_printf(sb, " (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)", s->bp, s->ratio, (long long)s->st.hyp_len,
            (long long)s->st.ref_len);
}
