/* cmd_place.c — `mamc place`: assigns the run's tasks to processes (passes/placement.h) and
 * prints the placement, what each rank holds, the communicator groups, and the cost against
 * MAMMOTH's approximation and round-robin. */
#include "cli_dist.h"

#include <math.h>
#include <stdlib.h>

static void print_copy(StrBuf *b, const DistSetup *ds, const PlaceCopy *c) {
  sb_puts(b, ds->in.tasks[c->task].name);
  if (c->stride > 1) sb_printf(b, " (lines %d mod %d)", c->offset, c->stride);
}

static int run_place(int argc, char **argv) {
  long long seed = -1;
  if (!cli_take_int(&argc, argv, "--seed", &seed)) return EXIT_INPUT;
  ModelOpts o;
  int r = cli_model_opts(argc, argv, &cmd_place, &o);
  if (r) return r > 0 ? EXIT_OK : EXIT_INPUT;
  o.need_config = 1;
  Loaded l;
  int rc = cli_load(&o, &l);
  if (rc != EXIT_OK || !l.cfg) {
    if (rc == EXIT_OK) fprintf(stderr, "mamc place: needs a model and its run configuration (--config)\n");
    cli_loaded_free(&l);
    return EXIT_INPUT;
  }
  int R = o.processes > 0 ? o.processes : l.cfg->processes;
  DistSetup ds;
  Placement base[2];
  if (seed >= 0) l.cfg->sampling.seed = seed; /* the search's seed (the schedule's, by default) */
  int ok = dist_setup(l.cfg, l.prog, R, PLACE_EXACT, &l.arena, &ds, &l.diag);
  for (int m = 0; ok && m < 2; m++) ok = place_run(&ds.in, m ? PLACE_ROUNDROBIN : PLACE_MAMMOTH, &l.arena, &base[m], &l.diag);
  if (!ok) {
    cli_flush_diag(&l.diag);
    cli_loaded_free(&l);
    return EXIT_INPUT;
  }
  const IrProgram *p = l.prog;
  const Placement *pl = &ds.pl;
  StrBuf b;
  sb_init(&b);
  char s1[64], s2[64];
  sb_printf(&b, "placement: %d task%s on %d process%s (seed %lld): %.4f s\n", ds.in.ntasks, ds.in.ntasks == 1 ? "" : "s",
            R, R == 1 ? "" : "es", (long long)ds.in.seed, pl->seconds);
  int64_t *held = calloc((size_t)R, sizeof(int64_t));
  for (int rk = 0; rk < R && held; rk++) {
    sb_printf(&b, "\nrank %d: ", rk);
    for (int i = 0; i < ds.ncopies[rk]; i++) {
      if (i) sb_puts(&b, ", ");
      print_copy(&b, &ds, &pl->copies[ds.copies[rk][i]]);
    }
    sb_printf(&b, "\n  load %.3f (%+.1f%% of the mean)\n  holds:", pl->load[rk],
              pl->mean_load > 0 ? 100 * (pl->load[rk] / pl->mean_load - 1) : 0.0);
    int n = 0;
    for (int m = 0; m < p->modules.n; m++)
      for (int i = 0; i < pl->nholders[m]; i++)
        if (pl->holders[m][i] == rk) {
          sb_printf(&b, "%s%s", n++ % 8 == 0 ? "\n    " : " ", p->modules.v[m].name);
          held[rk] += place_module_bytes(p, m);
        }
    cli_human_bytes(s1, sizeof s1, (double)held[rk]);
    sb_printf(&b, "\n  (%d module instance%s, %s of gradients)\n", n, n == 1 ? "" : "s", s1);
  }
  free(held);
  CommPlan cp;
  if (comm_plan_build(p, R, 0, &l.arena, &cp, &l.diag)) {
    sb_printf(&b, "\ncommunicator groups (created in this order):%s\n", cp.ngroups ? "" : " none");
    for (int g = 0; g < cp.ngroups; g++) {
      sb_printf(&b, "  %-18s", cp.groups[g].name);
      int n = 0;
      for (int m = 0; m < p->modules.n; m++)
        if (cp.modules[m].group == g) {
          sb_printf(&b, "%s%s%s", n > 0 && n % 6 == 0 ? "\n                    " : " ", p->modules.v[m].name,
                    cp.modules[m].kind == COMM_OUTER ? "(outer)" : "");
          n++;
        }
      sb_putc(&b, '\n');
    }
  }
  sb_puts(&b, "\ncost: gradient bytes per step when every holder trains (2 (holders - 1) x bytes x syncs per step)\n");
  const Placement *all[3] = {pl, &base[0], &base[1]};
  const char *names[3] = {place_method_name(PLACE_EXACT), place_method_name(PLACE_MAMMOTH),
                          place_method_name(PLACE_ROUNDROBIN)};
  for (int i = 0; i < 3; i++) {
    cli_human_bytes(s1, sizeof s1, all[i]->cost);
    snprintf(s2, sizeof s2, "%.2fx", pl->cost > 0 ? all[i]->cost / pl->cost : (all[i]->cost > 0 ? INFINITY : 1.0));
    sb_printf(&b, "  %-15s %14.0f B  %12s  %7s of mamc  imbalance %5.1f%%\n", names[i], all[i]->cost, s1, s2,
              100 * all[i]->imbalance);
  }
  sb_puts(&b, "\n# as run.yaml ranks (a task on several ranks is split by lines):\n");
  for (int t = 0; t < ds.in.ntasks; t++) {
    sb_printf(&b, "#   %s: ranks: [", ds.in.tasks[t].name);
    int n = 0;
    for (int c = 0; c < pl->ncopies; c++)
      if (pl->copies[c].task == t) sb_printf(&b, "%s%d", n++ ? ", " : "", pl->copies[c].rank);
    sb_puts(&b, "]\n");
  }
  rc = b.failed ? EXIT_INTERNAL : cli_write_output(o.out, b.s ? b.s : "", b.len);
  sb_free(&b);
  cli_loaded_free(&l);
  return rc;
}

const Cmd cmd_place = {
    "place", run_place, "assign tasks to processes minimising communication (prints the placement)",
    "usage: mamc place MODEL.mam --config RUN.yaml [--processes N] [--seed S] [-o OUT]\n\n"
    "Assigns the run's tasks to its processes (`processes:` or --processes N). Tasks with explicit\n"
    "`ranks:` keep them; the others are placed to minimise the gradient bytes exchanged per step\n"
    "over the real module sets, while every process has a task from step 0 and the processes'\n"
    "sampling weights stay within 10% of the mean (a task too heavy for one process is split\n"
    "over several by lines, as MAMMOTH splits large pairs). Prints each rank's tasks, load and\n"
    "module instances, the communicator groups in creation order, and the cost against two\n"
    "baselines: MAMMOTH's approximation of the modules ({src_lang, src_group, tgt_lang,\n"
    "tgt_group} per task) and round-robin. --seed sets the search's seed (default: the\n"
    "sampling seed); the result is deterministic for a seed. See docs/distributed.md.\n"};
