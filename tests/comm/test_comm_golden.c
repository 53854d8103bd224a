/* test_comm_golden.c — golden IR-text tests of the comm pass, QBE style (as tests/passes):
 *
 *   # target: rank 0, nranks 2, bucket 64, clip 1     IrProgram.target (bucket in bytes)
 *   # run: comm                                       the passes, in order
 *   ...input IR (module ranks = holders)...
 *   # expect:
 *   # ...the program printed after the passes...
 *
 * For each file: the input parses and verifies; the passes run with the verifier after each;
 * the result equals the expect block (MAMC_UPDATE_GOLDEN=1 rewrites it: review the diff);
 * it round-trips through the text form; and in the interpreter (one process: every
 * collective is the identity) each graph gives the same outputs as before, every added
 * gradient output is zero (received, nothing to receive), every outer.<module>.<param> (a
 * round's outer_sync) is the parameter itself, and grad_norm_sq is the sum of the squares of
 * the gradients the rank counts (comm.h).
 *
 *   test_comm_golden FILE.mir ...
 */
#include <stdlib.h>

#include "../passes/equiv.h"
#include "comm.h"
#include "pipeline.h"
#include "golden.h"
#include "test.h"

static void read_target(const char *text, IrTarget *t) {
  const char *s = strstr(text, "# target:");
  if (!s) return;
  long long v;
  const char *k;
  if ((k = strstr(s, "rank ")) && sscanf(k, "rank %lld", &v) == 1) t->rank = (int)v;
  if ((k = strstr(s, "nranks ")) && sscanf(k, "nranks %lld", &v) == 1) t->nranks = (int)v;
  if ((k = strstr(s, "bucket ")) && sscanf(k, "bucket %lld", &v) == 1) t->bucket_bytes = v;
  if ((k = strstr(s, "clip ")) && sscanf(k, "clip %lld", &v) == 1) t->clip = (int)v;
}

/* Outputs of `before` unchanged; added gradients zero; the norm as comm.h defines it. */
static void check_values(const char *path, const IrProgram *before, const IrProgram *after, int gi,
                         const ParamStore *ps) {
  const IrGraph *ga = &before->graphs.v[gi], *gb = &after->graphs.v[gi];
  int64_t sym[64];
  eq_symbols(after, sym);
  int nin = 0;
  for (int i = 0; i < gb->nodes.n; i++) nin += gb->nodes.v[i].op == OP_INPUT;
  Tensor *in = calloc((size_t)nin + 1, sizeof(Tensor)), *va = calloc((size_t)ga->outputs.n + 1, sizeof(Tensor)),
         *vb = calloc((size_t)gb->outputs.n + 1, sizeof(Tensor));
  char err[256];
  int ok = eq_inputs(after, gb, sym, 99 + (uint64_t)gi, in);
  for (int i = 0, k = 0; ok && i < gb->nodes.n; i++) /* DEPT TRIM's rows: an index map (ascending) */
    if (gb->nodes.v[i].op == OP_INPUT && strcmp(gb->nodes.v[i].name, "vocab_rows") == 0)
      for (int64_t e = 0; e < in[k].n; e++) rt_tensor_set(&in[k], e, (double)e);
    else
      k += gb->nodes.v[i].op == OP_INPUT;
  ok = ok && eq_run(before, gi, sym, in, ps, va, err, sizeof err) && eq_run(after, gi, sym, in, ps, vb, err, sizeof err);
  CHECK_MSG(ok, "%s: task #%d: %s", path, gi, err);
  CommPlan pl;
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  int have_plan = after->target.rank >= 0 && comm_plan_build(after, after->target.nranks, 0, &a, &pl, &d);
  double norm = 0;
  for (int o = 0; ok && o < gb->outputs.n; o++) {
    const IrOutput *out = &gb->outputs.v[o];
    int j = 0;
    while (j < ga->outputs.n && strcmp(ga->outputs.v[j].name, out->name) != 0) j++;
    /* a round's outer_sync is the identity in one process: the parameter's value */
    const IrNode *nd = &gb->nodes.v[out->node];
    const Tensor *pv = NULL;
    if (nd->op == OP_OUTER_SYNC) {
      const IrNode *x = &gb->nodes.v[nd->in[0]];
      CHECK_MSG(x->op == OP_PARAM && strncmp(out->name, OUTER_PREFIX, strlen(OUTER_PREFIX)) == 0,
                "%s: task #%d: output %s: an outer_sync of a parameter, named outer.*", path, gi, out->name);
      if (x->op == OP_PARAM) pv = &ps->t[ps->first[x->module] + x->param];
    }
    double worst = 0;
    for (int64_t e = 0; e < vb[o].n; e++) {
      double x = rt_tensor_get(&vb[o], e), want = j < ga->outputs.n ? rt_tensor_get(&va[j], e) : 0;
      if (pv) want = rt_tensor_get(pv, e);
      if (strcmp(out->name, "grad_norm_sq") == 0) continue;
      if (fabs(x - want) > worst) worst = fabs(x - want);
      if (have_plan && out->module >= 0) {
        const CommModule *cm = &pl.modules[out->module];
        int counted = !(cm->kind == COMM_EVERY && pl.groups[cm->group].ranks[0] != after->target.rank);
        if (counted) norm += x * x;
      }
    }
    CHECK_MSG(worst <= 1e-12, "%s: task #%d: output %s differs by %g", path, gi, out->name, worst);
  }
  for (int o = 0; ok && o < gb->outputs.n; o++)
    if (strcmp(gb->outputs.v[o].name, "grad_norm_sq") == 0)
      CHECK_MSG(fabs(rt_tensor_get(&vb[o], 0) - norm) <= 1e-9 * (1 + norm), "%s: task #%d: grad_norm_sq %g, want %g",
                path, gi, rt_tensor_get(&vb[o], 0), norm);
  eq_free(in, nin);
  eq_free(va, ga->outputs.n);
  eq_free(vb, gb->outputs.n);
  free(in);
  free(va);
  free(vb);
  diag_free(&d);
  arena_free(&a);
}

static void test_file(const char *path) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *f = srcfile_read(&a, &d, path);
  CHECK_MSG(f != NULL, "%s", path);
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
  read_target(f->text, &after.target);
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
  }
  char *got = golden_print(&after), *want = golden_block(f->text, "# expect:\n");
  if (getenv("MAMC_UPDATE_GOLDEN"))
    golden_update(path, f->text, got);
  else
    CHECK_MSG(want && strcmp(got, want) == 0, "%s: output differs:\n--- got:\n%s--- expected:\n%s", path, got,
              want ? want : "(no '# expect:' block)\n");
  IrProgram again;
  ir_program_init(&again, &a);
  ok = ir_parse(&again, srcfile_from_string(&a, "printed.mir", got), &d) && ir_verify(&again, &d);
  CHECK_MSG(ok, "%s: printed result does not parse or verify:\n%s", path, d.out.s ? d.out.s : "");
  if (ok) {
    char *twice = golden_print(&again);
    CHECK_MSG(strcmp(twice, got) == 0, "%s: result does not round-trip", path);
    free(twice);
  }
  /* running it again changes nothing */
  for (int g = 0; g < after.graphs.n; g++) CHECK(pass_comm(&after, g, &d));
  char *twice = golden_print(&after);
  CHECK_MSG(strcmp(twice, got) == 0, "%s: the pass is not idempotent", path);
  free(twice);
  char err[256];
  ParamStore ps;
  CHECK_MSG(rt_params_init(&ps, &before, 7, DT_F64, err, sizeof err), "%s", err);
  for (int g = 0; g < before.graphs.n; g++) check_values(path, &before, &after, g, &ps);
  rt_params_free(&ps);
  printf("%s: ok\n", path);
  free(got);
  free(want);
done:
  diag_free(&d);
  arena_free(&a);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) test_file(argv[i]);
  CHECK(argc > 1);
  return test_done();
}
