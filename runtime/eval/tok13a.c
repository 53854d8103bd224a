/* tok13a.c — the 13a tokeniser of BLEU (mteval-v13a.pl), as sacreBLEU 2.x implements it in
 * tokenizer_13a.py + tokenizer_re.py, step by step:
 *
 *   1. (--lowercase) str.lower(), then str.rstrip()
 *   2. remove "<skipped>" and "-\n", "\n" -> " "; if the line has '&': "&quot;" -> '"',
 *      then "&amp;" -> '&', "&lt;" -> '<', "&gt;" -> '>' (in that order, each over the
 *      whole line, so "&amp;quot;" becomes "&quot;" and stays)
 *   3. pad with one space on both sides, then four regex substitutions, each a left-to-right
 *      scan over non-overlapping matches (Python's re.sub):
 *        ([\{-\~\[-\` -\&\(-\+\:-\@\/])  ->  " \1 "   ASCII punctuation except ' , - .
 *        ([^0-9])([\.,])                 ->  "\1 \2 " period/comma unless after a digit
 *        ([\.,])([^0-9])                 ->  " \1 \2" period/comma unless before a digit
 *        ([0-9])(-)                      ->  "\1 \2 " dash after a digit
 *   4. split on whitespace (Python's str.split()) and join with single spaces.
 *
 * The substitutions work on bytes: every pattern character is ASCII, and a multi-byte UTF-8
 * character matched by [^0-9] is copied unchanged whether it is consumed whole or byte by
 * byte, so the result is the same as Python's code-point matching.
 */
#include "eval.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* the class of substitution 1 */
static int is_punct13a(unsigned char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
         (c >= ':' && c <= '@') || c == '/';
}

/* Appends s[0..n) to out with every (non-overlapping, left to right) pat replaced by rep. */
static void replace_all(StrBuf *out, const char *s, size_t n, const char *pat, const char *rep) {
  size_t pn = strlen(pat);
  for (size_t i = 0; i < n;) {
    if (i + pn <= n && memcmp(s + i, pat, pn) == 0) {
      sb_puts(out, rep);
      i += pn;
    } else {
      sb_putc(out, s[i++]);
    }
  }
}

/* a <- b, b emptied (swap the buffers, keep both allocations) */
static void swap_into(StrBuf *a, StrBuf *b) {
  StrBuf t = *a;
  *a = *b;
  *b = t;
  b->len = 0;
  if (b->s) b->s[0] = 0;
  a->failed |= b->failed;
}

void eval_tok13a(StrBuf *sb, const char *line, const EvalOpts *o) {
  StrBuf a, b;
  sb_init(&a);
  sb_init(&b);
  /* 1. lowercase, rstrip */
  size_t n = strlen(line);
  if (o && o->lowercase) eval_lower(&a, line, n);
  else sb_putn(&a, line, n);
  a.len = eval_rstrip_len(a.s ? a.s : "", a.len);
  if (a.s) a.s[a.len] = 0;

  /* 2. language-independent part */
  static const char *const repl[][2] = {{"<skipped>", ""}, {"-\n", ""},  {"\n", " "}, {"&quot;", "\""},
                                        {"&amp;", "&"},    {"&lt;", "<"}, {"&gt;", ">"}};
  for (int r = 0; r < COUNT_OF(repl); r++) {
    if (r == 3 && !(a.len && memchr(a.s, '&', a.len))) break; /* `if '&' in line:` */
    replace_all(&b, a.s ? a.s : "", a.len, repl[r][0], repl[r][1]);
    swap_into(&a, &b);
  }

  /* 3. pad, substitution 1 */
  sb_putc(&b, ' ');
  for (size_t i = 0; i < a.len; i++) {
    if (is_punct13a((unsigned char)a.s[i])) {
      sb_putc(&b, ' ');
      sb_putc(&b, a.s[i]);
      sb_putc(&b, ' ');
    } else {
      sb_putc(&b, a.s[i]);
    }
  }
  /* the trailing pad space is itself in the class: " " -> "   " (whitespace, dropped in 4.) */
  sb_putc(&b, ' ');
  swap_into(&a, &b);

  /* substitution 2: ([^0-9])([\.,]) -> "\1 \2 " */
  for (size_t i = 0; i < a.len;) {
    char c = a.s[i];
    if (!is_digit(c) && i + 1 < a.len && (a.s[i + 1] == '.' || a.s[i + 1] == ',')) {
      sb_putc(&b, c);
      sb_putc(&b, ' ');
      sb_putc(&b, a.s[i + 1]);
      sb_putc(&b, ' ');
      i += 2;
    } else {
      sb_putc(&b, c);
      i++;
    }
  }
  swap_into(&a, &b);

  /* substitution 3: ([\.,])([^0-9]) -> " \1 \2" */
  for (size_t i = 0; i < a.len;) {
    char c = a.s[i];
    if ((c == '.' || c == ',') && i + 1 < a.len && !is_digit(a.s[i + 1])) {
      sb_putc(&b, ' ');
      sb_putc(&b, c);
      sb_putc(&b, ' ');
      sb_putc(&b, a.s[i + 1]);
      i += 2;
    } else {
      sb_putc(&b, c);
      i++;
    }
  }
  swap_into(&a, &b);

  /* substitution 4: ([0-9])(-) -> "\1 \2 " */
  for (size_t i = 0; i < a.len;) {
    char c = a.s[i];
    if (is_digit(c) && i + 1 < a.len && a.s[i + 1] == '-') {
      sb_putc(&b, c);
      sb_putc(&b, ' ');
      sb_putc(&b, '-');
      sb_putc(&b, ' ');
      i += 2;
    } else {
      sb_putc(&b, c);
      i++;
    }
  }
  swap_into(&a, &b);

  /* 4. split on whitespace, join with single spaces */
  int need_space = 0, first = 1;
  for (size_t i = 0; i < a.len;) {
    int k;
    uint32_t cp = eval_utf8_next(a.s + i, &k);
    if (eval_is_space(cp)) {
      need_space = 1;
    } else {
      if (need_space && !first) sb_putc(sb, ' ');
      sb_putn(sb, a.s + i, (size_t)k);
      need_space = 0;
      first = 0;
    }
    i += (size_t)k;
  }
  if (a.failed) sb->failed = 1;
  sb_free(&a);
  sb_free(&b);
}
