/* test_lex.c — unit tests of the .mam tokenizer: token kinds and values, where newlines
 * become TK_NEWLINE, nl_before, locations, and recovery from unclosed brackets. */
#include "ast.h"
#include "test.h"

/* Tokens of `text` as a space-separated string: spelling for keywords and punctuation,
 * names and numbers as written, strings quoted, NL for TK_NEWLINE; TK_EOF left out.
 * Returns "ERROR: <first diagnostic line>" when lex fails. */
static const char *toks(const char *text) {
  static char buf[4096];
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, "t.mam", text);
  int n;
  Token *t = lex(&a, &d, f, &n);
  buf[0] = 0;
  if (!t) {
    snprintf(buf, sizeof buf, "ERROR: %.*s", (int)strcspn(d.out.s, "\n"), d.out.s);
  } else {
    size_t len = 0;
    for (int i = 0; i < n && t[i].kind != TK_EOF; i++) {
      const char *s = t[i].kind == TK_NEWLINE ? "NL" : t[i].text;
      const char *q = t[i].kind == TK_STRING ? "\"" : "";
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s%s%s", i ? " " : "", q, s, q);
    }
    CHECK(t[n - 1].kind == TK_EOF);
  }
  diag_free(&d);
  arena_free(&a);
  return buf;
}

static void test_newlines(void) {
  CHECK_STR(toks("x = 1\ny = 2\n"), "x = 1 NL y = 2 NL");
  CHECK_STR(toks("\n\n  x\n\n\n# comment\n   \ny"), "x NL y");
  CHECK_STR(toks("x\r\ny\r\n"), "x NL y NL");
  CHECK_STR(toks("f(a,\n  b)\n"), "f ( a , b ) NL");
  CHECK_STR(toks("f(a\n  b)"), "f ( a b )");
  CHECK_STR(toks("[a\n b]"), "[ a b ]");
  CHECK_STR(toks("{\n a\n b\n}\n"), "{ a NL b NL } NL");
  CHECK_STR(toks("f({\n a\n})"), "f ( { a NL } )"); /* braces reopen statements */
  /* no newline after what cannot end a statement */
  CHECK_STR(toks("a +\n b"), "a + b");
  CHECK_STR(toks("a or\n b and\n not\n c"), "a or b and not c");
  CHECK_STR(toks("x =\n 1"), "x = 1");
  CHECK_STR(toks("a,\n b"), "a , b");
  CHECK_STR(toks("a ==\nb !=\nc <\nd <=\ne >\nf >=\ng"), "a == b != c < d <= e > f >= g");
  CHECK_STR(toks("a -\nb *\nc /\nd //\ne %\nf @\ng **\nh ..\ni"),
            "a - b * c / d // e % f @ g ** h .. i");
  CHECK_STR(toks("a.\nb ->\nc :\nd"), "a . b -> c : d");
  /* but yes after everything else */
  CHECK_STR(toks("a\nb^T\n1\n2.5\n\"s\"\n)\n]\n}\nreturn\n"),
            "a NL b ^T NL 1 NL 2.5 NL \"s\" NL ) NL ] NL } NL return NL");
  /* block comments: a newline inside one counts */
  CHECK_STR(toks("a /* x\n y */ b"), "a NL b");
  CHECK_STR(toks("a /* x */ b /**/ c /* * / ** */"), "a b c");
  CHECK_STR(toks("a # c /* not a block\nb"), "a NL b");
  CHECK_STR(toks("x; y;\nz"), "x ; y ; NL z");
}

static void test_tokens(void) {
  CHECK_STR(toks("( ) [ ] { } , : ; . .. ... = == != < <= > >= + - * / // % @ ** ^T ->"),
            "( ) [ ] { } , : ; . .. ... = == != < <= > >= + - * / // % @ ** ^T ->");
  CHECK_STR(toks("a...b..c.d"), "a ... b .. c . d");
  CHECK_STR(toks("x^T^T"), "x ^T ^T");
  CHECK_STR(toks("x**-2//3"), "x ** - 2 // 3");
  CHECK_STR(toks("0..n"), "0 .. n");
  CHECK_STR(toks("1.5..2"), "1.5 .. 2");
  CHECK_STR(toks("use const index from config block fn module param init frozen if else for "
                 "in return input output task true false none and or not"),
            "use const index from config block fn module param init frozen if else for in "
            "return input output task true false none and or not");
  CHECK_STR(toks("_a1 B2_ uses constx"), "_a1 B2_ uses constx");
  CHECK_STR(toks("\"a\\tb\\\"c\\\\d\\n\""), "\"a\tb\"c\\d\n\"");
  CHECK_STR(toks("\"h\xc3\xa9llo\" # \xc3\xb1\n/* \xc3\xbc */ x"), "\"h\xc3\xa9llo\" NL x");

  /* kinds and values */
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, "t.mam", "42 0.02 1e-5 3.0e2 9223372036854775807 1E3 007 use x");
  int n;
  Token *t = lex(&a, &d, f, &n);
  CHECK(t && n == 10);
  if (t && n == 10) {
    CHECK(t[0].kind == TK_INT && t[0].ival == 42);
    CHECK(t[1].kind == TK_FLOAT && t[1].fval == 0.02);
    CHECK(t[2].kind == TK_FLOAT && t[2].fval == 1e-5);
    CHECK(t[3].kind == TK_FLOAT && t[3].fval == 300.0);
    CHECK(t[4].kind == TK_INT && t[4].ival == INT64_MAX);
    CHECK(t[5].kind == TK_FLOAT && t[5].fval == 1000.0);
    CHECK(t[6].kind == TK_INT && t[6].ival == 7);
    CHECK(t[7].kind == TK_USE && t[8].kind == TK_IDENT && t[9].kind == TK_EOF);
    CHECK_STR(t[3].text, "3.0e2");
  }
  CHECK(d.nerrors == 0);
  diag_free(&d);
  arena_free(&a);

  CHECK_STR(tok_kind_name(TK_RPAREN), "')'");
  CHECK_STR(tok_kind_name(TK_TASK), "'task'");
  CHECK_STR(tok_kind_name(TK_NEWLINE), "newline");
  CHECK_STR(tok_kind_name(TK_EOF), "end of file");
  CHECK_STR(tok_kind_name(TK_IDENT), "identifier");
  for (int k = 0; k < TK_COUNT; k++) CHECK(tok_kind_name((TokKind)k) != NULL);
}

static void test_locations(void) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_from_string(&a, "t.mam", "  foo\tbar # c\n/* a\nb */ baz(\n  q)\n");
  int n;
  Token *t = lex(&a, &d, f, &n);
  /* foo bar NL baz ( q ) NL EOF */
  CHECK(t && n == 9);
  if (t && n == 9) {
    CHECK(t[0].loc.line == 1 && t[0].loc.col == 3 && t[0].len == 3 && !t[0].nl_before);
    CHECK(t[1].loc.line == 1 && t[1].loc.col == 7); /* a tab is one byte */
    CHECK(t[2].kind == TK_NEWLINE && t[2].loc.line == 1 && t[2].loc.col == 10);
    CHECK(t[3].loc.line == 3 && t[3].loc.col == 6 && t[3].nl_before);
    CHECK(t[5].loc.line == 4 && t[5].loc.col == 3 && t[5].nl_before);
    CHECK(t[6].kind == TK_RPAREN && !t[6].nl_before);
    CHECK(t[7].kind == TK_NEWLINE && t[7].loc.line == 4 && t[7].loc.col == 5);
    CHECK(t[8].kind == TK_EOF && t[8].loc.line == 4 && t[8].loc.col == 5);
    CHECK(t[0].loc.file == f);
  }
  t = lex(&a, &d, srcfile_from_string(&a, "e.mam", ""), &n);
  CHECK(t && n == 1 && t[0].kind == TK_EOF && t[0].loc.line == 1 && t[0].loc.col == 1);
  t = lex(&a, &d, srcfile_from_string(&a, "e.mam", "\"s\" x"), &n);
  CHECK(t && n == 3 && t[0].len == 3 && t[1].loc.col == 5);
  CHECK(d.nerrors == 0);
  diag_free(&d);
  arena_free(&a);
}

/* A line starting with a statement keyword ends whatever brackets or operators were left
 * open, so one missing ')' does not swallow the rest of the file. */
static void test_recovery(void) {
  CHECK_STR(toks("f(a,\ntask t"), "f ( a , NL task t");
  CHECK_STR(toks("x = (a +\n  return y\n z"), "x = ( a + NL return y NL z");
  CHECK_STR(toks("x = [a\n  if b { }\n"), "x = [ a NL if b { } NL");
  CHECK_STR(toks("f(a {\n b\n}\nc"), "f ( a { b NL } NL c");
  CHECK_STR(toks("a)\nb]\nc}\nd"), "a ) NL b ] NL c } NL d");
  CHECK_STR(toks("{ f(]\nx }\ny"), "{ f ( ] x } NL y");
}

static void test_errors(void) {
  /* all lexical errors of a file are reported, then lex returns NULL */
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  int n = 5;
  Token *t = lex(&a, &d, srcfile_from_string(&a, "t.mam", "a $ b\nc ` 1.2.3\n\"x"), &n);
  CHECK(t == NULL && n == 0);
  CHECK(d.nerrors == 4);
  CHECK(d.out.s && strstr(d.out.s, "t.mam:1:3: error: stray character '$'\n"));
  CHECK(d.out.s && strstr(d.out.s, "t.mam:2:3: error: stray character '`'\n"));
  CHECK(d.out.s && strstr(d.out.s, "t.mam:2:5: error: invalid number '1.2.3': a number has at most one '.'\n"));
  CHECK(d.out.s && strstr(d.out.s, "t.mam:3:1: error: unterminated string: missing '\"' before the end of the file\n"));
  diag_free(&d);
  arena_free(&a);
  CHECK_STR(toks("x = 0x1f"), "ERROR: t.mam:1:5: error: invalid number '0x1f': only decimal numbers are supported");
  CHECK_STR(toks("1e+"), "ERROR: t.mam:1:1: error: invalid number '1e': the exponent has no digits");
  CHECK_STR(toks("2.5e-x"), "ERROR: t.mam:1:1: error: invalid number '2.5e': the exponent has no digits");
  CHECK_STR(toks("1e5x"), "ERROR: t.mam:1:1: error: invalid number '1e5x': a number cannot be followed by a letter");
  CHECK_STR(toks("1e999"), "ERROR: t.mam:1:1: error: number '1e999' is out of range for a float");
  CHECK_STR(toks("a ! b"), "ERROR: t.mam:1:3: error: stray character '!' (negation is 'not')");
  CHECK_STR(toks("a\x01"), "ERROR: t.mam:1:2: error: stray control character U+0001");
  CHECK_STR(toks("x^y"), "ERROR: t.mam:1:2: error: '^' must be followed by 'T' (x^T transposes; powers are written '**')");
  CHECK_STR(toks("x^Tx"), "ERROR: t.mam:1:2: error: '^' must be followed by 'T' (x^T transposes; powers are written '**')");
  CHECK_STR(toks("x \xce\xbb"), "ERROR: t.mam:1:3: error: stray character '\xce\xbb' (U+03BB) outside a string or comment");
  CHECK_STR(toks("x \xc0\xaf"), "ERROR: t.mam:1:3: error: invalid UTF-8 byte 0xc0");
  CHECK_STR(toks("\"a\\qb\""), "ERROR: t.mam:1:3: error: unknown escape sequence '\\q' (allowed: \\\" \\\\ \\n \\t)");
  CHECK_STR(toks("\"abc\\\nx"), "ERROR: t.mam:1:1: error: unterminated string: missing '\"' before the end of the line");
  CHECK_STR(toks("x /* a\n * b"), "ERROR: t.mam:1:3: error: unterminated comment: '/*' has no matching '*/'");
}

int main(void) {
  test_newlines();
  test_tokens();
  test_locations();
  test_recovery();
  test_errors();
  return test_done();
}
