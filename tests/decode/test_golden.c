/* test_golden.c — golden IR-text tests of the decode pass (passes/decode.c). Each .mir file:
 *
 *   # run: decode simplify          the passes to run, in order (default: decode)
 *   ...input IR (token ids < 8 are valid for every gather table)...
 *   # expect:                        the program printed after the passes
 *   # ...
 * or
 *   # expect-error: TEXT             the passes fail and the diagnostics contain TEXT (one
 *                                    line per expected text)
 *
 * For a file with an expect block: the input parses and verifies; the passes run with the
 * verifier after each; the printed program equals the block (MAMC_UPDATE_GOLDEN=1 rewrites
 * it: review the diff); it round-trips through the text form; and for the first task graph,
 * the step programs (through decoder_score) give the full graph's teacher-forced
 * log-probabilities on random parameters and ids, to 1e-10 in f64.
 *
 *   test_decode_golden FILE.mir ...
 */
#include <stdlib.h>

#include "dec_util.h"
#include "pipeline.h"
#include "golden.h"
#include "test.h"

/* Runs the passes of the `# run:` line (default decode). */
static int run_passes(IrProgram *p, const char *text, Diag *d) {
  const char *run = strstr(text, "# run:");
  char line[256] = "decode";
  if (run) sscanf(run + 6, " %255[^\n]", line);
  char *save = NULL;
  for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    const Pass *ps = pass_find(w);
    if (!ps) return diag_plain(d, "unknown pass %s", w), 0;
    if (!pass_run_one(p, ps, 1, d)) return 0;
  }
  return 1;
}

static void check_numbers(const char *path, const IrProgram *p) {
  int enc, step;
  if (!dec_find_graphs(p, 0, &enc, &step)) return;
  const IrGraph *g = &p->graphs.v[0];
  int has_src = g->nodes.n > 1 && g->nodes.v[1].op == OP_INPUT;
  enum { B = 2, S = 4, T = 5 };
  int sl[B] = {4, 2}, tl[B] = {5, 4};
  int32_t src[B * S], tgt[B * T];
  du_tokens(src, B, S, sl, 4, 1, 0);
  du_tokens(tgt, B, T, tl, 4, 2, 1);
  ParamStore ps;
  char err[512];
  CHECK_MSG(rt_params_init(&ps, p, 5, DT_F64, err, sizeof err), "%s", err);
  Decoder *dc = decoder_new(p, enc, step, &ps, NULL, DT_F64, err, sizeof err);
  CHECK_MSG(dc != NULL, "%s: %s", path, err);
  if (dc && has_src) {
    int V = decoder_vocab(dc);
    size_t n = (size_t)B * (T - 1) * (size_t)V;
    double *full = calloc(n, sizeof(double)), *got = calloc(n, sizeof(double)), worst = 0;
    CHECK_MSG(du_full_logp(p, &ps, DT_F64, src, B, S, tgt, T, full, err, sizeof err), "%s: %s", path, err);
    CHECK_MSG(decoder_score(dc, src, B, S, tgt, T, got, err, sizeof err), "%s: %s", path, err);
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(full[i] - got[i]));
    CHECK_MSG(worst <= 1e-10, "%s: the step programs differ from the full graph by %g", path, worst);
    free(full);
    free(got);
  }
  decoder_free(dc);
  rt_params_free(&ps);
}

static void test_file(const char *path) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_read(&a, &d, path);
  IrProgram p;
  ir_program_init(&p, &a);
  int parsed = f && ir_parse(&p, f, &d) && ir_verify(&p, &d);
  CHECK_MSG(parsed, "%s: %s", path, d.out.s ? d.out.s : "");
  if (!parsed) goto done;
  char *errs = golden_block(f->text, "# expect-error:");
  if (strstr(f->text, "# expect-error:")) {
    int ok = run_passes(&p, f->text, &d);
    CHECK_MSG(!ok, "%s: the passes succeeded, expected an error", path);
    for (const char *s = f->text; (s = strstr(s, "# expect-error:")); s++) {
      char want[256] = "";
      sscanf(s + 15, " %255[^\n]", want);
      CHECK_MSG(d.out.s && strstr(d.out.s, want), "%s: no error containing '%s' in:\n%s", path, want,
                d.out.s ? d.out.s : "(none)");
    }
    free(errs);
    goto done;
  }
  free(errs);
  CHECK_MSG(run_passes(&p, f->text, &d), "%s: %s", path, d.out.s ? d.out.s : "");
  char *got = golden_print(&p), *want = golden_block(f->text, "# expect:\n");
  const char *upd = getenv("MAMC_UPDATE_GOLDEN");
  if (upd && *upd && strcmp(upd, "0") != 0) golden_update(path, f->text, got);
  else CHECK_MSG(want && strcmp(got, want) == 0, "%s: output differs:\n%s", path, got);
  IrProgram q; /* round trip */
  ir_program_init(&q, &a);
  SrcFile *g = srcfile_from_string(&a, "after.mir", got);
  Diag d2;
  diag_init(&d2);
  CHECK_MSG(ir_parse(&q, g, &d2) && ir_verify(&q, &d2), "%s: the result does not parse back: %s", path,
            d2.out.s ? d2.out.s : "");
  char *again = golden_print(&q);
  CHECK_MSG(strcmp(again, got) == 0, "%s: the result does not round-trip", path);
  diag_free(&d2);
  free(again);
  check_numbers(path, &p);
  free(got);
  free(want);
done:
  diag_free(&d);
  arena_free(&a);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) test_file(argv[i]);
  CHECK_MSG(argc > 1, "no .mir files given");
  return test_done();
}
