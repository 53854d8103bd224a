/* fuzz_mam.c — fuzz harness for the .mam frontend: lex -> parse -> elaborate against a small
 * fixed run configuration (index sets lang/source/family, byte vocabularies), with the
 * stdlib. The task instances come from the model itself (one or two per `task` template,
 * their arguments taken from the fixed index sets) so that inputs get past "task not in the
 * model" and into elaboration. Properties of an accepted model: the elaborated program
 * verifies, prints to IR text that parses back to the same text; the pass pipeline
 * (verifying after every pass) succeeds and round-trips when every task has a loss, and
 * otherwise succeeds or refuses with a diagnostic (skipped above MAX_PIPELINE_NODES nodes, for
 * speed: the pipeline is superlinear in the graph size and the model is legal).
 */
#include "fuzz.h"

#include "ast.h"
#include "bind.h"
#include "config.h"
#include "elab.h"
#include "ir.h"
#include "pipeline.h"

static const char run_yaml[] =
    "index:\n"
    "  lang: [en, fr, de]\n"
    "  source: [en, fr]\n"
    "  family: {germanic: [en, de], romance: [fr]}\n"
    "vocab:\n"
    "  en: {type: byte}\n"
    "  fr: {type: byte}\n"
    "  de: {type: byte}\n"
    "tasks:\n"
    "  - task: lm(en)\n"
    "    path: none.tsv\n";

enum { MAX_TASKS = 8, MAX_PIPELINE_NODES = 3000 };

/* The fixed configuration, loaded once into its own arena (read-only afterwards). */
static const RunConfig *fixed_config(void) {
  static Arena arena;
  static RunConfig *cfg;
  if (!cfg) {
    Diag d;
    diag_init(&d);
    arena_init(&arena);
    cfg = config_load_string(&arena, &d, "fuzz.yaml", run_yaml);
    if (!cfg) {
      fprintf(stderr, "fuzz_mam: the fixed run configuration does not load:\n%s", fuzz_text(&d.out));
      abort();
    }
    diag_free(&d);
  }
  return cfg;
}

/* Value number k of the index set named `kind`: a configured one, a literal one declared
 * in the model, or "en". */
static const char *index_value(const RunConfig *cfg, const AstFile *ast, const char *kind, int k) {
  const CfgIndex *ix = kind ? cfg_index_find(cfg, kind) : NULL;
  if (ix && ix->values.n) return ix->values.v[k % ix->values.n].s;
  for (int i = 0; kind && i < ast->decls.n; i++) {
    const Decl *dc = ast->decls.v[i];
    if (dc->kind != D_INDEX || strcmp(dc->name, kind) != 0) continue;
    if (!dc->grouped && dc->nvalues) return dc->values[k % dc->nvalues];
    if (dc->grouped && dc->ngroups) return dc->groups[k % dc->ngroups].name;
  }
  return "en";
}

/* One or two instances of every task template of the model. */
static int derive_tasks(Arena *a, const RunConfig *cfg, const AstFile *ast, FeTask *out) {
  int n = 0;
  for (int i = 0; i < ast->decls.n && n < MAX_TASKS; i++) {
    const Decl *dc = ast->decls.v[i];
    if (dc->kind != D_TASK) continue;
    int ninst = dc->params.n ? 2 : 1;
    for (int inst = 0; inst < ninst && n < MAX_TASKS; inst++) {
      FeTask *t = &out[n];
      memset(t, 0, sizeof *t);
      t->name = arena_printf(a, "t%d", n);
      t->tmpl = dc->name;
      t->nargs = dc->params.n;
      t->args = ARENA_ARRAY(a, const char *, t->nargs ? t->nargs : 1);
      for (int k = 0; k < t->nargs; k++) t->args[k] = index_value(cfg, ast, dc->params.v[k].kind, k + inst);
      n++;
    }
  }
  return n;
}

/* Every task has a loss: the training compile, which the whole pipeline must accept. (A task
 * of outputs only is legal too, for decoding; passes may refuse it with a diagnostic.) */
static int all_have_loss(const IrProgram *p) {
  for (int g = 0; g < p->graphs.n; g++) {
    int loss = 0;
    for (int o = 0; o < p->graphs.v[g].outputs.n; o++)
      loss |= p->graphs.v[g].outputs.v[o].name && strcmp(p->graphs.v[g].outputs.v[o].name, "loss") == 0;
    if (!loss) return 0;
  }
  return 1;
}

/* Print -> parse -> print gives the same text, and the parsed program verifies. */
static void check_round_trip(const IrProgram *p, const char *what) {
  StrBuf b1, b2;
  sb_init(&b1);
  sb_init(&b2);
  ir_print_program(&b1, p);
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  IrProgram q;
  ir_program_init(&q, &a);
  SrcFile *f = srcfile_from_string(&a, "printed.mir", fuzz_text(&b1));
  int ok = ir_parse(&q, f, &d) && ir_verify(&q, &d);
  FUZZ_ASSERT(ok, "%s: the printed program does not parse back:\n%s\n%s", what, fuzz_text(&d.out),
              fuzz_text(&b1));
  ir_print_program(&b2, &q);
  FUZZ_ASSERT(strcmp(fuzz_text(&b1), fuzz_text(&b2)) == 0, "%s: print(parse(print(p))) != print(p)", what);
  diag_free(&d);
  arena_free(&a);
  sb_free(&b1);
  sb_free(&b2);
}

int fuzz_mam(const uint8_t *data, size_t size) {
  const RunConfig *cfg = fixed_config();
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = fuzz_srcfile(&a, "fuzz.mam", data, size);
  AstFile *ast = src ? parse_file(&a, &d, src) : NULL;
  if (ast) {
    FeEnv env;
    fe_env_from_config(&a, cfg, &env);
    FeTask tasks[MAX_TASKS];
    env.ntasks = derive_tasks(&a, cfg, ast, tasks);
    env.tasks = tasks;
    const char *dirs[5];
    fe_default_stdlib_dirs(dirs, NULL, 0);
    env.stdlib_dirs = dirs;
    Diag d2;
    diag_init(&d2);
    IrProgram *p = fe_elaborate_string(&a, &d2, "fuzz.mam", src->text, &env);
    int nodes = 0;
    for (int g = 0; p && g < p->graphs.n; g++) nodes += p->graphs.v[g].nodes.n;
    if (p) {
      FUZZ_ASSERT(ir_verify(p, &d2), "the elaborated program does not verify:\n%s", fuzz_text(&d2.out));
      check_round_trip(p, "elaborated");
    }
    if (p && nodes <= MAX_PIPELINE_NODES) { /* big models are legal, just slow to fuzz */
      PipelineOpts o = {.verify = 1};
      if (pass_run(p, &o, &d2))
        check_round_trip(p, "after the pipeline");
      else
        FUZZ_ASSERT(!all_have_loss(p) && d2.nerrors > 0, "the pass pipeline fails:\n%s", fuzz_text(&d2.out));
    }
    diag_free(&d2);
  }
  diag_free(&d);
  arena_free(&a);
  return 0;
}

FUZZ_TARGET(fuzz_mam)
