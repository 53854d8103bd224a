/* test_examples.c — the passes on the real programs: each example (examples/NAME.mam with its
 * .yaml) is elaborated twice; the reference copy gets autodiff only (when autodiff can
 * differentiate it), the other the whole pipeline (autodiff, lower_attn, simplify, fusion, memplan) with
 * the verifier after every pass. Each task graph of the reference that the interpreter can
 * run is compared with the optimised one on random inputs (f64, 1e-12), and run again under
 * the optimised graph's memory plan with the plan-respecting evaluator (equiv.h). A program
 * autodiff cannot differentiate is checked forward only;
 * graphs the interpreter cannot run are reported as skipped.
 */
#include <stdlib.h>

#include "bind.h"
#include "equiv.h"
#include "pipeline.h"
#include "test.h"

static IrProgram *elab(Arena *a, Diag *d, const char *mam, const char *yaml) {
  RunConfig *cfg = config_load(a, d, yaml);
  if (!cfg) return NULL;
  return fe_elaborate_config(a, d, mam, cfg);
}

/* Runs the passes named in `passes` (letters) over p, verifying after each. */
static int run(IrProgram *p, const char *passes, Diag *d) {
  for (const char *c = passes; *c; c++) {
    char name[2] = {*c, 0};
    if (!pass_run_one(p, pass_find(name), 1, d)) return 0;
  }
  return 1;
}

static void example(const char *name) {
  char mam[256], yaml[256], err[512];
  snprintf(mam, sizeof mam, "examples/%s.mam", name);
  snprintf(yaml, sizeof yaml, "examples/%s.yaml", name);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram *ref = elab(&a, &d, mam, yaml), *opt = elab(&a, &d, mam, yaml);
  CHECK_MSG(ref && opt, "%s does not elaborate:\n%s", mam, d.out.s ? d.out.s : "");
  if (!ref || !opt) goto done;
  Diag ad;
  diag_init(&ad);
  int grads = run(ref, "A", &ad);
  if (!grads) { /* start again without autodiff */
    printf("%s: autodiff does not apply (checked forward only): %s", name, ad.out.s ? ad.out.s : "\n");
    ref = elab(&a, &d, mam, yaml);
  }
  diag_free(&ad);
  int ok = ref && run(opt, grads ? "ALSFM" : "LSFM", &d);
  CHECK_MSG(ok, "%s: the pipeline fails:\n%s", mam, d.out.s ? d.out.s : "");
  if (!ok) goto done;
  ParamStore ps;
  ok = rt_params_init(&ps, ref, 11, DT_F64, err, sizeof err);
  CHECK_MSG(ok, "%s", err);
  if (!ok) goto done;
  int checked = 0;
  for (int g = 0; g < ref->graphs.n; g++) {
    int nodes_before = ref->graphs.v[g].nodes.n, nodes_after = opt->graphs.v[g].nodes.n;
    int r = eq_check_graph(ref, opt, g, &ps, 1, 99 + (uint64_t)g, err, sizeof err);
    const char *gname = ir_graph_name(ref, &ref->graphs.v[g]);
    if (r < 0) {
      printf("%s: task @%s skipped: the interpreter cannot run it: %s\n", name, gname, err);
      continue;
    }
    CHECK_MSG(r == 1, "%s: task @%s: %s", name, gname, err);
    checked++;
    printf("%s: task @%s%s: %d -> %d nodes, same outputs, also under its memory plan\n", name, gname,
           grads ? " (with gradients)" : "", nodes_before, nodes_after);
  }
  /* lm and shared must actually be checked; multi only where its graphs interpret */
  if (strcmp(name, "multi") != 0) CHECK_MSG(checked == ref->graphs.n, "%s: %d of %d graphs checked", name, checked, ref->graphs.n);
  rt_params_free(&ps);
done:
  diag_free(&d);
  arena_free(&a);
}

int main(void) {
  const char *examples[] = {"lm", "shared", "multi"};
  for (int i = 0; i < COUNT_OF(examples); i++) example(examples[i]);
  return test_done();
}
