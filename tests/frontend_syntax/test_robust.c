/* test_robust.c — the parser on damaged input: every prefix of the golden files, single-byte
 * edits, pathological nesting and allocation failure. It must never crash or leak (run it
 * under MAMC_SANITIZE=ON), must fail exactly when it reports an error, and must point every
 * error inside the file. */
#include <stdlib.h>

#include "ast.h"
#include "expect_diag.h"
#include "test.h"

/* Parses text; checks the invariants; returns 1 if it parsed. */
static int parse_ok(const char *name, const char *text, size_t len, int *nerrors) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  char *copy = arena_strndup(&a, text, len);
  SrcFile *f = srcfile_from_string(&a, name, copy);
  AstFile *ast = parse_file(&a, &d, f);
  int lines = 1;
  for (size_t i = 0; i < f->len; i++) lines += f->text[i] == '\n';
  CHECK_MSG((ast != NULL) == (d.nerrors == 0), "%s: result and error count disagree (%d errors)",
            name, d.nerrors);
  if (!ast) CHECK_MSG(d.out.len > 0, "%s: failed without a message", name);
  if (ast) {
    StrBuf b;
    sb_init(&b);
    ast_dump(&b, ast);
    CHECK(b.len > 0);
    sb_free(&b);
  }
  /* every diagnostic is at a line of the file */
  for (const char *s = d.out.s; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : "") {
    size_t nl = strlen(name);
    if (strncmp(s, name, nl) == 0 && s[nl] == ':') {
      int line = atoi(s + nl + 1);
      CHECK_MSG(line >= 1 && line <= lines, "%s: diagnostic at line %d of %d", name, line, lines);
    }
  }
  if (nerrors) *nerrors = d.nerrors;
  diag_free(&d);
  arena_free(&a);
  return ast != NULL;
}

static void test_prefixes_and_edits(const char *dir) {
  static const char edits[] = ")(}{]\"^\n:,=x";
  int n;
  char **names = expect_diag_list(dir, ".mam", &n);
  CHECK(names && n > 0);
  long parses = 0;
  for (int i = 0; i < n; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    char *text = expect_diag_read_file(path);
    CHECK(text != NULL);
    if (!text) continue;
    size_t len = strlen(text);
    CHECK_MSG(parse_ok(path, text, len, NULL), "%s does not parse", path);
    for (size_t k = 0; k < len; k++, parses++) parse_ok(path, text, k, NULL);
    char *mut = malloc(len + 1);
    for (size_t k = 0; k < len; k++) {
      for (const char *e = edits; *e && k % 2 == 0; e++, parses++) { /* every other byte */
        memcpy(mut, text, len + 1);
        mut[k] = *e;
        parse_ok(path, mut, len, NULL);
      }
      /* deletion */
      memcpy(mut, text, k);
      memcpy(mut + k, text + k + 1, len - k);
      parse_ok(path, mut, len - 1, NULL);
      parses++;
    }
    free(mut);
    free(text);
  }
  expect_diag_free_list(names, n);
  printf("%ld damaged parses\n", parses);
}

/* Builds prefix * n + middle + suffix * n. */
static char *repeat(const char *prefix, const char *middle, const char *suffix, int n) {
  size_t pl = strlen(prefix), ml = strlen(middle), sl = strlen(suffix);
  char *s = malloc(pl * (size_t)n + ml + sl * (size_t)n + 1), *q = s;
  for (int i = 0; i < n; i++) memcpy(q, prefix, pl), q += pl;
  memcpy(q, middle, ml), q += ml;
  for (int i = 0; i < n; i++) memcpy(q, suffix, sl), q += sl;
  *q = 0;
  return s;
}

static void test_nesting(void) {
  struct { const char *pre, *mid, *suf; int n, ok; } cases[] = {
    {"(", "1", ")", 0, 1},
    {"(", "1", ")", 100000, 0},
    {"[", "1", "]", 100000, 0},
    {"-", "1", "", 100000, 0},
    {"not ", "a", "", 100000, 0},
    {"f(", "1", ")", 50000, 0},
    {"x[", "1", "]", 50000, 0},
    {"a + ", "a", "", 100000, 0},   /* long chains are deep trees too */
    {"a * ", "a", "", 100000, 0},
    {"a or ", "a", "", 100000, 0},
    {"a and ", "a", "", 100000, 0},
    {"x.", "y", "", 100000, 0},
    {"", "x", "^T", 100000, 0},
    {"", "x", "(1)", 100000, 0},
    {"2 ** ", "2", "", 100000, 0},
    {"a + ", "a", "", 999, 1},
    {"", "x", "[0]", 999, 1},
    {"(", "1", ")", 150, 1},
  };
  for (int i = 0; i < COUNT_OF(cases); i++) {
    char *body = repeat(cases[i].pre, cases[i].mid, cases[i].suf, cases[i].n);
    char *text = malloc(strlen(body) + 32);
    sprintf(text, "const x = %s\n", body);
    int nerr = 0;
    int ok = parse_ok("nest.mam", text, strlen(text), &nerr);
    CHECK_MSG(ok == cases[i].ok, "nesting case %d (%s x %d): parsed %d, expected %d", i,
              cases[i].pre, cases[i].n, ok, cases[i].ok);
    if (!cases[i].ok) CHECK_MSG(nerr == 1, "nesting case %d: %d errors", i, nerr);
    free(text);
    free(body);
  }
  /* nested statement bodies */
  char *deep = repeat("if x {\n", "y = 1\n", "}\n", 1000);
  char *text = malloc(strlen(deep) + 32);
  sprintf(text, "fn f(x) {\n%s}\n", deep);
  CHECK(!parse_ok("nest.mam", text, strlen(text), NULL));
  free(text);
  free(deep);
  deep = repeat("if x { y = 1 } else ", "{ y = 2 }", "", 100000);
  text = malloc(strlen(deep) + 32);
  sprintf(text, "fn f(x) {\n%s\n}\n", deep);
  CHECK(!parse_ok("nest.mam", text, strlen(text), NULL));
  free(text);
  free(deep);
  deep = repeat("if x {\n", "y = 1\n", "}\n", 50);
  text = malloc(strlen(deep) + 32);
  sprintf(text, "fn f(x) {\n%s}\n", deep);
  CHECK(parse_ok("nest.mam", text, strlen(text), NULL));
  free(text);
  free(deep);
}

/* Many errors: each line is reported once, up to the Diag's limit. */
static void test_many_errors(void) {
  char *text = repeat("const = 1\n", "", "", 100);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  CHECK(parse_file(&a, &d, srcfile_from_string(&a, "many.mam", text)) == NULL);
  CHECK_MSG(d.nerrors == 100, "%d errors", d.nerrors);
  int printed = 0;
  for (const char *s = d.out.s; s && (s = strstr(s, ": error: ")); s++) printed++;
  CHECK_MSG(printed == 20, "%d errors printed (limit 20)", printed);
  diag_free(&d);
  arena_free(&a);
  free(text);
}

/* Allocation failure at every allocation: NULL and "out of memory", never a crash. */
static void test_oom(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/design.mam", dir);
  char *text = expect_diag_read_file(path);
  CHECK(text != NULL);
  if (!text) return;
  int succeeded = 0;
  for (long k = 1; k < 100000 && !succeeded; k++) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    SrcFile *f = srcfile_from_string(&a, "design.mam", text);
    a.fail_after = k;
    AstFile *ast = parse_file(&a, &d, f);
    if (ast) {
      succeeded = 1;
      CHECK(d.nerrors == 0);
      CHECK(k > 10);
    } else {
      CHECK_MSG(d.out.s && strstr(d.out.s, "out of memory"), "allocation %ld: %s", k,
                d.out.s ? d.out.s : "(no message)");
    }
    CHECK(a.oom == NULL);
    diag_free(&d);
    arena_free(&a);
  }
  CHECK(succeeded);
  free(text);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/frontend_syntax/golden";
  test_prefixes_and_edits(dir);
  test_nesting();
  test_many_errors();
  test_oom(dir);
  return test_done();
}
