/* test_golden.c — parses every golden/NAME.mam and compares ast_dump with golden/NAME.ast.
 * MAMC_UPDATE_GOLDEN=1 rewrites the .ast files instead (check the diff by eye before
 * committing). Each file must parse with no diagnostics at all. */
#include <stdlib.h>

#include "ast.h"
#include "expect_diag.h"
#include "test.h"

/* Reports the first line where got and want differ. */
static void show_diff(const char *path, const char *got, const char *want) {
  int line = 1;
  while (*got && *got == *want) {
    if (*got == '\n') line++;
    got++, want++;
  }
  while (line > 1 && got[-1] != '\n') got--, want--;
  fprintf(stderr, "%s: line %d differs\n  got:      %.*s\n  expected: %.*s\n", path, line,
          (int)strcspn(got, "\n"), got, (int)strcspn(want, "\n"), want);
}

static void check_file(const char *dir, const char *name, int update) {
  char path[1024], ast_path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(ast_path, sizeof ast_path, "%.*s.ast", (int)(strlen(path) - 4), path);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = srcfile_read(&a, &d, path);
  AstFile *f = src ? parse_file(&a, &d, src) : NULL;
  CHECK_MSG(f != NULL && d.out.len == 0, "%s does not parse cleanly:\n%s", path,
            d.out.s ? d.out.s : "");
  if (f) {
    StrBuf b, b2;
    sb_init(&b);
    sb_init(&b2);
    ast_dump(&b, f);
    ast_dump(&b2, f);
    CHECK_MSG(strcmp(b.s, b2.s) == 0, "%s: ast_dump is not deterministic", path);
    /* the same file with CRLF line ends gives the same tree */
    StrBuf crlf, b3;
    sb_init(&crlf);
    sb_init(&b3);
    for (const char *c = src->text; *c; c++) {
      if (*c == '\n') sb_putc(&crlf, '\r');
      sb_putc(&crlf, *c);
    }
    AstFile *f2 = parse_file(&a, &d, srcfile_from_string(&a, path, crlf.s));
    CHECK_MSG(f2 != NULL, "%s with CRLF line ends does not parse:\n%s", path, d.out.s ? d.out.s : "");
    if (f2) {
      ast_dump(&b3, f2);
      CHECK_MSG(strcmp(b.s, b3.s) == 0, "%s: CRLF line ends change the tree", path);
    }
    sb_free(&crlf);
    sb_free(&b3);
    if (update) {
      FILE *out = fopen(ast_path, "wb");
      CHECK_MSG(out != NULL, "cannot write %s", ast_path);
      if (out) {
        fputs(b.s, out);
        fclose(out);
        printf("updated %s\n", ast_path);
      }
    } else {
      char *want = expect_diag_read_file(ast_path);
      CHECK_MSG(want != NULL, "cannot read %s (run with MAMC_UPDATE_GOLDEN=1 to create it)",
                ast_path);
      if (want) {
        int same = strcmp(b.s, want) == 0;
        CHECK_MSG(same, "%s: AST differs from %s", path, ast_path);
        if (!same) show_diff(path, b.s, want);
      }
      free(want);
    }
    sb_free(&b);
    sb_free(&b2);
  }
  diag_free(&d);
  arena_free(&a);
}

/* The 1-based column of the first `needle` on line `line` of text (0 if absent). */
static int col_of(const char *text, int line, const char *needle) {
  for (int l = 1; l < line && text; l++) {
    text = strchr(text, '\n');
    if (text) text++;
  }
  if (!text) return 0;
  const char *hit = strstr(text, needle), *eol = strchr(text, '\n');
  return hit && (!eol || hit < eol) ? (int)(hit - text) + 1 : 0;
}

#define CHECK_LOC(l, line_, needle)                                                        \
  CHECK_MSG((l).line == (line_) && (l).col == col_of(text, (line_), (needle)) &&           \
                (l).file == src,                                                           \
            "%s at %d:%d, expected %d:%d", needle, (l).line, (l).col, (line_),             \
            col_of(text, (line_), (needle)))

/* Where nodes point: names at the name, operators at the operator, calls at the callee. */
static void test_locations(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/design.mam", dir);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = srcfile_read(&a, &d, path);
  AstFile *f = src ? parse_file(&a, &d, src) : NULL;
  CHECK(f && f->decls.n == 10);
  if (f && f->decls.n == 10) {
    const char *text = src->text;
    CHECK_LOC(f->decls.v[0]->loc, 2, "nn");
    CHECK_LOC(f->decls.v[3]->groups[1].loc, 6, "germanic");
    CHECK_LOC(f->decls.v[3]->groups[1].locs[1], 6, "de]");
    const Decl *embed = f->decls.v[4];
    CHECK_LOC(embed->loc, 8, "embed");
    CHECK_LOC(embed->idx[0].loc, 8, "l:");
    CHECK_LOC(embed->idx[0].set->loc, 8, "lang");
    CHECK_LOC(embed->value->loc, 8, "Embedding"); /* call at its callee: the member name */
    const Decl *task = f->decls.v[9];
    CHECK_LOC(task->loc, 15, "translate");
    CHECK_LOC(task->params.v[1].loc, 15, "t: lang");
    CHECK(task->body.n == 5);
    if (task->body.n == 5) {
      CHECK_LOC(task->body.v[1]->loc, 16, "tgt");
      CHECK_LOC(task->body.v[1]->value->loc, 16, "i32[B, T]");
      const Stmt *loss = task->body.v[4];
      CHECK_LOC(loss->loc, 19, "loss");
      const Expr *call = loss->value;
      CHECK_LOC(call->loc, 19, "cross_entropy");
      CHECK(call->nargs == 3);
      if (call->nargs == 3) {
        const Expr *mm = call->args[0].value;
        CHECK_LOC(mm->loc, 19, "@");
        CHECK_LOC(mm->rhs->loc, 19, "^T");
        CHECK_LOC(mm->rhs->lhs->loc, 19, "weight");  /* member: at the name */
        CHECK_LOC(mm->rhs->lhs->lhs->loc, 19, "[t].weight"); /* index: at '[' */
        CHECK_LOC(call->args[1].loc, 19, "tgt[:, 1:]");
        CHECK_LOC(call->args[1].value->args[1].value->loc, 19, "1:]"); /* slice: at start */
        CHECK_LOC(call->args[2].loc, 19, "smoothing");
        CHECK_LOC(call->args[2].value->loc, 19, "0.1");
      }
      const Expr *y = task->body.v[3]->value; /* dec[t](embed[t](tgt[:, :-1]), m) */
      const Expr *neg = y->args[0].value->args[0].value->args[1].value->rhs;
      CHECK_LOC(neg->loc, 18, "-1");
      CHECK_LOC(y->args[0].value->args[0].value->args[1].value->loc, 18, ":-1");
    }
  }
  diag_free(&d);
  arena_free(&a);
}

/* Files with nothing in them. */
static void test_trivial(void) {
  const char *texts[] = {"", "\n\n", "# only a comment", "/* a\n block */\n", " ; ;\n;"};
  for (int i = 0; i < COUNT_OF(texts); i++) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d);
    AstFile *f = parse_file(&a, &d, srcfile_from_string(&a, "empty.mam", texts[i]));
    CHECK_MSG(f && f->decls.n == 0 && d.nerrors == 0, "text %d", i);
    if (f) {
      StrBuf b;
      sb_init(&b);
      ast_dump(&b, f);
      CHECK_STR(b.s, "(file)\n");
      sb_free(&b);
    }
    diag_free(&d);
    arena_free(&a);
  }
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/frontend_syntax/golden";
  const char *u = getenv("MAMC_UPDATE_GOLDEN");
  int update = u && strcmp(u, "1") == 0;
  int n;
  char **names = expect_diag_list(dir, ".mam", &n);
  CHECK_MSG(names && n >= 5, "expected golden .mam files in %s", dir);
  for (int i = 0; i < n; i++) check_file(dir, names[i], update);
  expect_diag_free_list(names, n);
  test_locations(dir);
  test_trivial();
  return test_done();
}
