/* test_golden.c — golden IR-text tests of the passes, QBE style. Each .mir file given on the
 * command line holds:
 *
 *   # run: simplify fusion          the passes to run, in order (names or letters)
 *   ...input IR...
 *   # expect:
 *   # ...the program printed after the passes...
 *   # ...then, when memplan ran, the memory plan of every graph (memplan_dump)...
 *
 * For each file: the input parses and verifies; the passes run with the verifier after each;
 * the printed result equals the expect block (MAMC_UPDATE_GOLDEN=1 rewrites the block
 * instead: review the diff); the result round-trips through the text form; and the graphs
 * before and after compute the same outputs in the interpreter on random inputs (and, after
 * memplan, under the plan-respecting evaluator of equiv.h).
 *
 *   test_passes_golden FILE.mir ...
 */
#include <stdlib.h>

#include "equiv.h"
#include "pipeline.h"
#include "golden.h"
#include "test.h"

static void test_file(const char *path) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_read(&a, &d, path);
  CHECK_MSG(f != NULL, "%s", d.out.s ? d.out.s : path);
  if (!f) goto done;
  const char *run = strstr(f->text, "# run:");
  CHECK_MSG(run != NULL, "%s: no '# run:' line", path);
  if (!run) goto done;
  IrProgram before, after;
  ir_program_init(&before, &a);
  ir_program_init(&after, &a);
  int ok = ir_parse(&before, f, &d) && ir_verify(&before, &d) && ir_parse(&after, f, &d);
  CHECK_MSG(ok, "%s:\n%s", path, d.out.s ? d.out.s : "");
  if (!ok) goto done;
  int planned = 0;
  char names[256];
  const char *eol = strchr(run, '\n');
  snprintf(names, sizeof names, "%.*s", (int)(eol ? eol - run - 6 : (long)strlen(run + 6)), run + 6);
  for (char *tok = strtok(names, " ,\t"); tok; tok = strtok(NULL, " ,\t")) {
    const Pass *pass = pass_find(tok);
    CHECK_MSG(pass != NULL, "%s: unknown pass '%s'", path, tok);
    if (!pass) goto done;
    ok = pass_run_one(&after, pass, 1, &d);
    CHECK_MSG(ok, "%s: pass %s:\n%s", path, pass->name, d.out.s ? d.out.s : "");
    if (!ok) goto done;
    planned |= !strcmp(pass->name, "memplan");
  }
  char *got = golden_print(&after);
  StrBuf all;
  sb_init(&all);
  sb_puts(&all, got);
  for (int g = 0; planned && g < after.graphs.n; g++) {
    MemPlan mp;
    CHECK(memplan_build(&after, g, &a, &mp, &d));
    sb_putc(&all, '\n');
    memplan_dump(&all, &after, &mp);
  }
  char *want = golden_block(f->text, "# expect:\n");
  if (getenv("MAMC_UPDATE_GOLDEN")) {
    golden_update(path, f->text, all.s);
  } else {
    CHECK_MSG(want && strcmp(all.s, want) == 0, "%s: output differs:\n--- got:\n%s--- expected:\n%s", path, all.s,
              want ? want : "(no '# expect:' block)\n");
  }
  /* the text form round-trips, groups included */
  IrProgram again;
  ir_program_init(&again, &a);
  ok = ir_parse(&again, srcfile_from_string(&a, "printed.mir", got), &d);
  CHECK_MSG(ok, "%s: printed result does not parse:\n%s", path, d.out.s ? d.out.s : "");
  if (ok) {
    char *twice = golden_print(&again);
    CHECK_MSG(strcmp(twice, got) == 0, "%s: result does not round-trip", path);
    free(twice);
  }
  /* same outputs */
  char err[512];
  ParamStore ps;
  CHECK_MSG(rt_params_init(&ps, &before, 7, DT_F64, err, sizeof err), "%s", err);
  for (int g = 0; g < before.graphs.n; g++) {
    int r = eq_check_graph(&before, &after, g, &ps, planned, 1234 + (uint64_t)g, err, sizeof err);
    CHECK_MSG(r == 1, "%s: task #%d: %s", path, g, err);
  }
  rt_params_free(&ps);
  printf("%s: ok\n", path);
  free(got);
  free(want);
  sb_free(&all);
done:
  diag_free(&d);
  arena_free(&a);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) test_file(argv[i]);
  CHECK(argc > 1);
  return test_done();
}
