/* test_diag.c — syntax diagnostics: every bad/NAME.mam must fail to parse, and its first
 * diagnostic must be the one written in its `# expect: LINE:COL: error: MESSAGE` line, with
 * the source line and a caret under COL (expect_diag.c). An optional `# nerrors: N` line
 * also fixes how many errors are reported (recovery). */
#include <stdlib.h>

#include "ast.h"
#include "expect_diag.h"
#include "test.h"

static void check_file(const char *dir, const char *name) {
  char path[1024], why[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *text = expect_diag_read_file(path);
  CHECK_MSG(text != NULL, "cannot read %s", path);
  if (!text) return;
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = srcfile_read(&a, &d, path);
  AstFile *f = src ? parse_file(&a, &d, src) : NULL;
  const char *out = d.out.s ? d.out.s : "";
  CHECK_MSG(f == NULL, "%s: parse_file succeeded on bad input", path);
  int ok = expect_diag_check(path, text, out, why, sizeof why);
  CHECK_MSG(ok, "%s: %s", path, why);
  const char *ne = strstr(text, "# nerrors: ");
  if (ne) {
    int want = atoi(ne + strlen("# nerrors: "));
    CHECK_MSG(d.nerrors == want, "%s: %d errors reported, expected %d", path, d.nerrors, want);
    ok = ok && d.nerrors == want;
  }
  if (!ok) fprintf(stderr, "--- diagnostics for %s:\n%s---\n", path, out);
  diag_free(&d);
  arena_free(&a);
  free(text);
}

/* The checker itself must reject what does not match. */
static void test_checker(void) {
  const char *text = "# expect: 2:5: error: bad thing\nab\tcd x\n";
  const char *good = "f.mam:2:5: error: bad thing\n  ab cd x\n      ^\n";
  char why[1024];
  CHECK(expect_diag_check("f.mam", text, good, why, sizeof why));
  CHECK(!expect_diag_check("g.mam", text, good, why, sizeof why));
  CHECK(!expect_diag_check("f.mam", text, "f.mam:2:5: error: other thing\n  ab cd x\n      ^\n", why, sizeof why));
  CHECK(!expect_diag_check("f.mam", text, "f.mam:2:5: error: bad thing\n  ab cd x\n     ^\n", why, sizeof why));
  CHECK(strstr(why, "caret") != NULL);
  CHECK(!expect_diag_check("f.mam", text, "f.mam:2:5: error: bad thing\n  # expect\n      ^\n", why, sizeof why));
  CHECK(!expect_diag_check("f.mam", text, "f.mam:2:5: error: bad thing\n", why, sizeof why));
  CHECK(!expect_diag_check("f.mam", text, "", why, sizeof why));
  CHECK(!expect_diag_check("f.mam", "x = 1\n", good, why, sizeof why));
  char exp[64];
  CHECK(expect_diag_find(text, exp, sizeof exp) && strcmp(exp, "2:5: error: bad thing") == 0);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/frontend_syntax/bad";
  test_checker();
  int n;
  char **names = expect_diag_list(dir, ".mam", &n);
  CHECK_MSG(names && n >= 15, "expected at least 15 bad .mam files in %s", dir);
  for (int i = 0; i < n; i++) check_file(dir, names[i]);
  expect_diag_free_list(names, n);
  return test_done();
}
