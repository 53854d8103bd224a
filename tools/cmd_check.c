/* cmd_check.c — `mamc check`, `mamc ir`, `mamc dot`: load a model (with its run
 * configuration) and report on it, print its IR, or draw it. */
#include "cli.h"
#include "cli_dist.h"
#include "dept.h"
#include "memplan.h"
#include "pipeline.h"

static int64_t param_count(const IrModule *m) {
  int64_t total = 0;
  for (int k = 0; k < m->params.n; k++) {
    int64_t e = 1;
    for (int r = 0; r < m->params.v[k].type.rank; r++) e *= m->params.v[k].type.d[r].add;
    total += e;
  }
  return total;
}

static int run_check(int argc, char **argv) {
  ModelOpts o;
  int r = cli_model_opts(argc, argv, &cmd_check, &o);
  if (r) return r > 0 ? EXIT_OK : EXIT_INPUT;
  Loaded l;
  int rc = cli_load(&o, &l);
  if (rc == EXIT_OK) {
    const IrProgram *p = l.prog;
    if (!o.config && !o.input_ir) {
      printf("%s: syntax and declarations ok (give --config RUN.yaml to instantiate its tasks and check shapes)\n", o.model);
    } else {
      int shared = 0, nodes = 0;
      int64_t params = 0;
      for (int m = 0; m < p->modules.n; m++) {
        shared += p->modules.v[m].used_by.n > 1;
        params += param_count(&p->modules.v[m]);
      }
      for (int g = 0; g < p->graphs.n; g++) nodes += p->graphs.v[g].nodes.n;
      printf("%s: ok: %d task%s, %d module instance%s (%d shared), %lld parameters, %d IR nodes\n",
             o.model ? o.model : o.input_ir, p->graphs.n, p->graphs.n == 1 ? "" : "s", p->modules.n,
             p->modules.n == 1 ? "" : "s", shared, (long long)params, nodes);
    }
  }
  cli_loaded_free(&l);
  return rc;
}

static int run_print(int argc, char **argv, const Cmd *cmd, int dot) {
  ModelOpts o;
  int r = cli_model_opts(argc, argv, cmd, &o);
  if (r) return r > 0 ? EXIT_OK : EXIT_INPUT;
  o.need_config = 1;
  Loaded l;
  int rc = cli_load(&o, &l);
  if (rc == EXIT_OK && (o.rank >= 0 || o.processes > 0 || (l.cfg && l.cfg->processes > 1)))
    rc = cli_dist_target(&l, &o); /* the program as that rank runs it (mamc ir --after comm) */
  PipelineOpts po = {o.after, o.passes, 0, NULL, NULL};
  /* DEPT TRIM trims the training graphs before the pipeline, as mamc train does (tools/api.c) */
  for (int g = 0; rc == EXIT_OK && (o.after || o.passes) && l.cfg && l.cfg->dept.variant == (int)DEPT_TRIM &&
                  g < l.prog->graphs.n; g++)
    if (!pass_dept_trim(l.prog, g, &l.diag)) {
      cli_flush_diag(&l.diag);
      rc = EXIT_INPUT;
    }
  if (rc == EXIT_OK && (o.after || o.passes) && !pass_run(l.prog, &po, &l.diag)) {
    cli_flush_diag(&l.diag);
    rc = EXIT_INPUT; /* a bad pass name, autodiff refusing a graph, ...: reported above */
  }
  if (rc == EXIT_OK) {
    StrBuf b;
    sb_init(&b);
    if (dot)
      ir_print_dot(&b, l.prog);
    else
      ir_print_program(&b, l.prog);
    int planned = o.after ? pass_find(o.after) == pass_find("memplan") : o.passes && strchr(o.passes, 'M');
    if (!dot && planned) /* the plans, as comments */
      for (int g = 0; g < l.prog->graphs.n; g++) {
        MemPlan mp;
        StrBuf d;
        sb_init(&d);
        if (memplan_build(l.prog, g, &l.arena, &mp, &l.diag)) memplan_dump(&d, l.prog, &mp);
        sb_putc(&b, '\n');
        for (const char *s = d.s; s && *s;) {
          const char *e = strchr(s, '\n');
          sb_puts(&b, "# ");
          sb_putn(&b, s, (size_t)(e - s + 1));
          s = e + 1;
        }
        sb_free(&d);
      }
    rc = b.failed ? EXIT_INTERNAL : cli_write_output(o.out, b.s ? b.s : "", b.len);
    sb_free(&b);
  }
  cli_loaded_free(&l);
  return rc;
}

static int run_ir(int argc, char **argv) { return run_print(argc, argv, &cmd_ir, 0); }

static int run_passes(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    fputs(cmd_passes.usage, stdout);
    return EXIT_OK;
  }
  int n;
  const Pass *t = pass_table(&n);
  for (int i = 0; i < n; i++) printf("%c  %-10s %s\n", t[i].letter, t[i].name, t[i].summary);
  return EXIT_OK;
}
static int run_dot(int argc, char **argv) { return run_print(argc, argv, &cmd_dot, 1); }

const Cmd cmd_check = {
    "check", run_check, "parse, elaborate and shape-check a model against its run configuration",
    "usage: mamc check MODEL.mam [--config RUN.yaml]\n"
    "       mamc check --ir PROGRAM.mir\n\n"
    "Reads MODEL.mam (and the stdlib files it uses). With --config, instantiates every task the\n"
    "run configuration lists, checks every shape, and prints a summary. Without it, checks the\n"
    "syntax and top-level declarations only. --ir parses and verifies IR text instead.\n\n"
    "Errors are printed as file:line:col: error: ... with the source line; exit status 2.\n"};

const Cmd cmd_ir = {
    "ir", run_ir, "print the IR of the whole program (module table and one graph per task)",
    "usage: mamc ir MODEL.mam --config RUN.yaml [--after PASS] [--passes LETTERS] [--rank R]\n"
    "               [--processes N] [-o OUT.mir]\n"
    "       mamc ir --ir PROGRAM.mir [--after PASS] [--passes LETTERS] [--rank R] [-o OUT.mir]\n\n"
    "Prints the program in the IR text form (docs/ir.md): the module table (instances,\n"
    "parameters, sync policy, the tasks using each) and one SSA graph per task instance.\n"
    "The text parses back to the same program (--ir reads it, verifies it and prints it).\n"
    "--after PASS runs the pass pipeline up to PASS (a name or letter; see mamc passes) and\n"
    "prints the program then; after memplan the memory plans follow as # comments.\n"
    "--passes LETTERS runs only those passes (e.g. SF: simplify and fusion, no autodiff).\n"
    "--rank R compiles for process R of a distributed run (default 0 when the run has several;\n"
    "--processes N overrides its world size): the tasks are placed (mamc place) and, after\n"
    "comm, R's graphs carry their gradient all-reduces (docs/distributed.md).\n"
    "-o writes to a file (atomically; nothing is written on error).\n"};

const Cmd cmd_passes = {
    "passes", run_passes, "list the compiler passes in pipeline order (for mamc ir --after)",
    "usage: mamc passes\n\n"
    "Lists the passes in the order they run: letter, name, what each does. MAMC_VERIFY=1 runs\n"
    "the IR verifier after every pass.\n"};

const Cmd cmd_dot = {
    "dot", run_dot, "draw the modules and how tasks flow through them (Graphviz)",
    "usage: mamc dot MODEL.mam --config RUN.yaml [-o OUT.dot]\n\n"
    "Prints a Graphviz graph: each module instance is a cluster (its sub-modules inside),\n"
    "modules shared by several tasks are drawn bold and list those tasks, and each task is a\n"
    "colour following its data through the modules. Render with:  dot -Tpng OUT.dot -o OUT.png\n"};
