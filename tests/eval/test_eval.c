/* test_eval.c — BLEU, chrF and the 13a tokeniser (runtime/eval/) on tiny cases checked by
 * hand: the expected counts, precisions and scores are worked out in the comments (and agree
 * with sacreBLEU 2.6.0). Edge cases: empty hypotheses, no overlap, one line, identical
 * text, lines shorter than 4 tokens, several references, lowercasing. */
#include <math.h>

#include "eval/eval.h"
#include "test.h"

static EvalOpts mixed = {0}, lower = {1};

static void check_tok(const char *in, const char *want, const EvalOpts *o) {
  StrBuf sb;
  sb_init(&sb);
  eval_tok13a(&sb, in, o);
  CHECK_STR(sb.s ? sb.s : "", want);
  sb_free(&sb);
}

static BleuScore bleu1(const char *hyp, const char *ref) {
  const char *h[1] = {hyp}, *r[1] = {ref};
  const char *const *refs[1] = {r};
  BleuScore s;
  CHECK(eval_bleu(h, refs, 1, 1, &mixed, &s) == 0);
  return s;
}

static double chrf1(const char *hyp, const char *ref) {
  const char *h[1] = {hyp}, *r[1] = {ref};
  const char *const *refs[1] = {r};
  ChrfScore s;
  CHECK(eval_chrf(h, refs, 1, 1, &mixed, &s) == 0);
  return s.score;
}

static void test_tok13a(void) {
  check_tok("Hello, world.", "Hello , world .", &mixed);
  check_tok("3.5 and 1,000", "3.5 and 1,000", &mixed); /* . and , between digits stay */
  check_tok("a.b", "a . b", &mixed);
  check_tok("5-4 a-b", "5 - 4 a-b", &mixed);          /* a dash is split only after a digit */
  /* entities: &quot; first, then &amp; (so &amp;amp; -> &amp;, which stays), &lt; &gt; */
  check_tok("&quot;hi&quot; &amp;amp; &lt;b&gt;", "\" hi \" & amp ; < b >", &mixed);
  check_tok("<skipped>x", "x", &mixed);
  check_tok("it's $10.50!", "it's $ 10.50 !", &mixed); /* the apostrophe is not split */
  check_tok(".5 end.", ". 5 end .", &mixed);           /* substitution 2 leaves ". 5" */
  check_tok("x,y 1.a a.1 1,a", "x , y 1 . a a . 1 1 , a", &mixed);
  check_tok("(x) [y] {z} a/b @c #d %e *f +g =h ~i |j \\k ^l _m `n",
            "( x ) [ y ] { z } a / b @ c # d % e * f + g = h ~ i | j \\ k ^ l _ m ` n", &mixed);
  check_tok("a\xc2\xa0" "b\xe2\x80\x89" "c  ", "a b c", &mixed);    /* no-break and thin spaces split */
  check_tok("Gr\xc3\xb6\xc3\x9f" "e: 5\xe2\x82\xac", "Gr\xc3\xb6\xc3\x9f" "e : 5\xe2\x82\xac", &mixed); /* Größe: 5€ */
  check_tok("", "", &mixed);
  check_tok("   ", "", &mixed);
  /* lowercasing: ÉTÉ -> été; ΟΔΟΣ -> οδος with a final sigma (ς), ΣΑ -> σα; İ -> i + U+0307 */
  check_tok("\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9", &lower);
  check_tok("\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\xa3\xce\x91", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82 \xcf\x83\xce\xb1", &lower);
  check_tok("\xc4\xb0", "i\xcc\x87", &lower);
  check_tok("&QUOT;", "& QUOT ;", &mixed); /* entities are case-sensitive ... */
  check_tok("&QUOT;", "\"", &lower);       /* ... but lowercasing comes first */
}

static void test_bleu_hand(void) {
  /* hyp "the cat sat on the mat", ref "the cat is on the mat": 6 and 6 tokens, BP = 1
   *   1-grams: the x2, cat, on, mat match           5/6 = 83.333%
   *   2-grams: "the cat", "on the", "the mat"      3/5 = 60%
   *   3-grams: "on the mat"                         1/4 = 25%
   *   4-grams: none; exp smoothing: 100/(2*3)     = 16.667%
   *   BLEU = (83.333 * 60 * 25 * 16.667)^(1/4) = 2083333.3^(1/4) = 37.9918 */
  BleuScore s = bleu1("the cat sat on the mat", "the cat is on the mat");
  CHECK(s.st.correct[0] == 5 && s.st.correct[1] == 3 && s.st.correct[2] == 1 && s.st.correct[3] == 0);
  CHECK(s.st.total[0] == 6 && s.st.total[1] == 5 && s.st.total[2] == 4 && s.st.total[3] == 3);
  CHECK_NEAR(s.precisions[3], 100.0 / 6, 1e-12);
  CHECK_NEAR(s.bp, 1.0, 0);
  CHECK_NEAR(s.score, pow(100.0 * 5 / 6 * 60 * 25 * (100.0 / 6), 0.25), 1e-9);
  CHECK_NEAR(s.score, 37.99178428257963, 1e-9);

  /* hyp "a b c d e", ref "a x b y c": 1-grams a b c: 3/5 = 60%; no 2-, 3-, 4-gram matches:
   * 100/(2*4) = 12.5%, 100/(4*3) = 8.333%, 100/(8*2) = 6.25%; BLEU = 39062.5^(1/4) = 14.0585 */
  s = bleu1("a b c d e", "a x b y c");
  CHECK_NEAR(s.precisions[1], 12.5, 1e-12);
  CHECK_NEAR(s.precisions[2], 100.0 / 12, 1e-12);
  CHECK_NEAR(s.precisions[3], 6.25, 1e-12);
  CHECK_NEAR(s.score, 14.058533129758727, 1e-9);

  /* brevity: hyp "a b c" (3 tokens), ref "a b c d e f" (6): all 3+2+1 n-grams match, but no
   * 4-gram exists: total_4 = 0 stops the loop and p_4 = 0 counts as log 0 -> BLEU 0 */
  s = bleu1("a b c", "a b c d e f");
  CHECK_NEAR(s.bp, exp(1.0 - 6.0 / 3.0), 1e-15);
  CHECK_NEAR(s.score, 0.0, 0);
  /* hyp of 4 tokens against the first 4 of 8: precisions 100, BP = exp(1 - 8/4) = 0.3679 */
  s = bleu1("a b c d", "a b c d e f g h");
  CHECK_NEAR(s.score, 100.0 * exp(-1.0), 1e-9);
  CHECK_NEAR(s.ratio, 0.5, 0);
}

static void test_bleu_refs(void) {
  /* two references: lengths 3 and 6 for a 4-token hypothesis: the closest is 3; n-grams are
   * clipped by the larger count in either reference, here all found in the second: 100 */
  const char *h[1] = {"a b c d"}, *r1[1] = {"a b x"}, *r2[1] = {"a b c d e f"};
  const char *const *refs[2] = {r1, r2};
  BleuScore s;
  CHECK(eval_bleu(h, refs, 2, 1, &mixed, &s) == 0);
  CHECK(s.st.ref_len == 3 && s.nrefs == 2);
  CHECK_NEAR(s.score, 100.0, 1e-9);
  /* a tie (3 and 5 are both 1 away from 4) goes to the shorter: ref_len 3, BP 1 */
  const char *r3[1] = {"a b c"}, *r4[1] = {"a b c d e"};
  const char *const *refs2[2] = {r4, r3};
  CHECK(eval_bleu(h, refs2, 2, 1, &mixed, &s) == 0);
  CHECK(s.st.ref_len == 3);
  CHECK_NEAR(s.score, 100.0, 1e-9);
  /* clipping within one reference: hyp "the the the the", ref "the cat": 1/4 for 1-grams */
  s = bleu1("the the the the", "the cat");
  CHECK(s.st.correct[0] == 1 && s.st.total[0] == 4);
  /* a missing reference (NULL) on one line: nrefs becomes "var" */
  const char *ha[2] = {"a b c d", "a b c d"}, *ra[2] = {"a b c d", "a b c d"}, *rb[2] = {"a b c d", NULL};
  const char *const *refs3[2] = {ra, rb};
  CHECK(eval_bleu(ha, refs3, 2, 2, &mixed, &s) == 0);
  CHECK(s.nrefs == -1);
  CHECK_NEAR(s.score, 100.0, 1e-9);
  StrBuf sb;
  sb_init(&sb);
  eval_bleu_signature(&sb, s.nrefs, &lower);
  CHECK_STR(sb.s, "nrefs:var|case:lc|eff:no|tok:13a|smooth:exp|version:" EVAL_VERSION_TAG);
  sb_free(&sb);
}

static void test_chrf_hand(void) {
  /* "abc" vs "abd": n=1 a,b of 3 (2/3 both ways); n=2 "ab" of 2 (1/2); n=3 0/1; n=4..6 no
   * n-grams on either side, so not counted. P = R = (2/3 + 1/2 + 0)/3 = 0.38889, and
   * F2 = 5PR/(4P + R) = P when P = R: 38.889 */
  CHECK_NEAR(chrf1("abc", "abd"), 100.0 * (2.0 / 3 + 0.5) / 3, 1e-9);
  /* whitespace is removed: "a b" and "ab" are the same characters: 100 */
  CHECK_NEAR(chrf1("a b", "ab"), 100.0, 1e-9);
  /* "abcd" vs "ab": n=1 hyp 4, ref 2, match 2; n=2 hyp 3, ref 1, match 1; n=3,4: the
   * reference has none, so the hypothesis' are not counted. P = (2/4 + 1/3)/2 = 0.41667,
   * R = (1 + 1)/2 = 1, F2 = 5 * 0.41667 / (4 * 0.41667 + 1) = 0.78125 */
  CHECK_NEAR(chrf1("abcd", "ab"), 78.125, 1e-9);
  /* characters, not bytes: "été" vs "ete": only 't' matches: P = R = (1/3 + 0 + 0)/3 */
  CHECK_NEAR(chrf1("\xc3\xa9t\xc3\xa9", "ete"), 100.0 / 9, 1e-9);
  /* several references: the best sentence F wins (sacreBLEU: 58.011 and 89.844) */
  const char *h[1] = {"a b c d"}, *r1[1] = {"a b x"}, *r2[1] = {"a b c d e f"}, *r3[1] = {"a b c"},
             *r4[1] = {"a b c d e"};
  const char *const *refs[2] = {r1, r2}, *const *refs2[2] = {r3, r4};
  ChrfScore s;
  CHECK(eval_chrf(h, refs, 2, 1, &mixed, &s) == 0);
  CHECK_NEAR(s.score, 58.011049723756905, 1e-9);
  CHECK(eval_chrf(h, refs2, 2, 1, &mixed, &s) == 0);
  CHECK_NEAR(s.score, 89.84375, 1e-9);
  /* lowercase: "ABC" vs "abd" scores like "abc" vs "abd" */
  const char *hl[1] = {"ABC"}, *rl[1] = {"abd"};
  const char *const *refsl[1] = {rl};
  CHECK(eval_chrf(hl, refsl, 1, 1, &lower, &s) == 0);
  CHECK_NEAR(s.score, 100.0 * (2.0 / 3 + 0.5) / 3, 1e-9);
}

static void test_edges(void) {
  /* empty hypotheses: no n-grams, hyp_len 0 < ref_len 3: BP 0, BLEU 0; chrF 0 */
  const char *h[2] = {"", ""}, *r[2] = {"a b", "c"};
  const char *const *refs[1] = {r};
  BleuScore b;
  ChrfScore c;
  CHECK(eval_bleu(h, refs, 1, 2, &mixed, &b) == 0);
  CHECK(b.st.hyp_len == 0 && b.st.ref_len == 3);
  CHECK_NEAR(b.score, 0.0, 0);
  CHECK_NEAR(b.bp, 0.0, 0);
  CHECK(eval_chrf(h, refs, 1, 2, &mixed, &c) == 0);
  CHECK_NEAR(c.score, 0.0, 0);
  /* empty against empty: 0 and 0 (nothing matches), BP 1 */
  CHECK_NEAR(bleu1("", "").score, 0.0, 0);
  CHECK_NEAR(chrf1("", ""), 0.0, 0);
  /* no overlap */
  CHECK_NEAR(bleu1("x y z", "a b c").score, 0.0, 0);
  CHECK_NEAR(chrf1("x y z", "a b c"), 0.0, 0);
  /* identical lines of >= 4 tokens: 100 and 100 */
  CHECK_NEAR(bleu1("a b c d e", "a b c d e").score, 100.0, 1e-9);
  CHECK_NEAR(chrf1("a b c d e", "a b c d e"), 100.0, 1e-9);
  /* identical but only 2 tokens: no 3-grams, so BLEU 0 (sacreBLEU's corpus BLEU); chrF 100 */
  CHECK_NEAR(bleu1("a b", "a b").score, 0.0, 0);
  CHECK_NEAR(chrf1("a b", "a b"), 100.0, 1e-9);
  /* no lines at all */
  CHECK(eval_bleu(h, refs, 1, 0, &mixed, &b) == 0);
  CHECK_NEAR(b.score, 0.0, 0);
  /* the text format */
  StrBuf sb;
  sb_init(&sb);
  eval_bleu_format(&sb, &(BleuScore){0}, &mixed, 2);
  CHECK_STR(sb.s, "BLEU|nrefs:0|case:mixed|eff:no|tok:13a|smooth:exp|version:" EVAL_VERSION_TAG
                  " = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 0)");
  sb.len = 0;
  ChrfScore cs = {.score = 41.52, .nrefs = 1};
  eval_chrf_format(&sb, &cs, &mixed, 2);
  CHECK_STR(sb.s, "chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" EVAL_VERSION_TAG " = 41.52");
  sb_free(&sb);
}

int main(void) {
  test_tok13a();
  test_bleu_hand();
  test_bleu_refs();
  test_chrf_hand();
  test_edges();
  return test_done();
}
