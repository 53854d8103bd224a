/* cmd_plan.c — `mamc plan`: the communication plan of a distributed run (passes/comm.h) —
 * groups, buckets in issue order, each rank's tasks at a step — and per rank the bytes it
 * sends per step, expected over the sampling schedule and at one step, beside the
 * theoretical minimum and MAMMOTH's scheme (definitions: docs/distributed.md). */
#include "cli_dist.h"
#include "plan_dept.h"

#include <stdlib.h>

/* Expected bytes per step over the whole run: the phases of the schedule (a phase starts
 * where a task is introduced), each weighted by its length. */
static int expected_over_run(const DistSetup *ds, const CommPlan *cp, int64_t steps, int clip, CommBytes *out) {
  int R = ds->nranks, G = cp->ngraphs;
  int64_t *starts = malloc(sizeof(int64_t) * (size_t)(ds->in.ntasks + 1));
  double **prob = malloc(sizeof(double *) * (size_t)R);
  CommBytes *one = malloc(sizeof(CommBytes) * (size_t)R);
  int ok = starts && prob && one;
  for (int r = 0; ok && r < R; r++) ok = (prob[r] = malloc(sizeof(double) * (size_t)(G + 1))) != NULL;
  if (ok) {
    int n = 0;
    starts[n++] = 0;
    for (int t = 0; t < ds->in.ntasks; t++) {
      int64_t s = ds->in.tasks[t].introduce_at_step, dup = 0;
      for (int i = 0; i < n; i++) dup |= starts[i] == s;
      if (!dup && s > 0 && s < steps) starts[n++] = s;
    }
    memset(out, 0, sizeof(CommBytes) * (size_t)R);
    for (int i = 0; i < n; i++) {
      int64_t end = steps;
      for (int j = 0; j < n; j++)
        if (starts[j] > starts[i] && starts[j] < end) end = starts[j];
      double f = (double)(end - starts[i]) / (double)steps;
      dist_probs_at(ds, starts[i], prob, G);
      comm_expected_bytes(cp, (const double *const *)prob, clip, one);
      for (int r = 0; r < R; r++) {
        out[r].wire += f * one[r].wire;
        out[r].payload += f * one[r].payload;
        out[r].minimum += f * one[r].minimum;
        out[r].control += f * one[r].control;
        out[r].mammoth += f * one[r].mammoth;
      }
    }
  }
  for (int r = 0; prob && r < R; r++) free(prob[r]);
  free(prob);
  free(starts);
  free(one);
  return ok;
}

static void row(StrBuf *b, const char *who, double held, const CommBytes *e, const CommBytes *s) {
  sb_printf(b, "%-6s %11.0f  %11.0f %11.0f %11.0f %11.0f %8.0f   %11.0f %11.0f %11.0f %11.0f\n", who, held, e->wire,
            e->minimum, e->payload, e->mammoth, e->control, s->wire, s->minimum, s->payload, s->mammoth);
}

static int run_plan(int argc, char **argv) {
  long long step = 0;
  if (!cli_take_int(&argc, argv, "--step", &step)) return EXIT_INPUT;
  ModelOpts o;
  int r = cli_model_opts(argc, argv, &cmd_plan, &o);
  if (r) return r > 0 ? EXIT_OK : EXIT_INPUT;
  o.need_config = 1;
  Loaded l;
  int rc = cli_load(&o, &l);
  if (rc != EXIT_OK || !l.cfg) {
    if (rc == EXIT_OK) fprintf(stderr, "mamc plan: needs a model and its run configuration (--config)\n");
    cli_loaded_free(&l);
    return EXIT_INPUT;
  }
  const RunConfig *cfg = l.cfg;
  int R = o.processes > 0 ? o.processes : cfg->processes, clip = cfg->train.clip > 0;
  int64_t bucket = (int64_t)(cfg->train.bucket_mb * (1 << 20));
  DistSetup ds;
  CommPlan cp;
  if (step < 0) step = 0;
  if (!dist_setup(cfg, l.prog, R, PLACE_EXACT, &l.arena, &ds, &l.diag) ||
      !comm_plan_build(l.prog, R, bucket, &l.arena, &cp, &l.diag)) {
    cli_flush_diag(&l.diag);
    cli_loaded_free(&l);
    return EXIT_INPUT;
  }
  PlanDept pd; /* outer rounds and DEPT (plan_dept.c) */
  if (!plan_dept_build(cfg, l.prog, &ds, &cp, &l.arena, &pd, &l.diag)) {
    cli_flush_diag(&l.diag);
    plan_dept_free(&pd);
    cli_loaded_free(&l);
    return EXIT_INPUT;
  }
  const IrProgram *p = l.prog;
  StrBuf b;
  sb_init(&b);
  char s1[64];
  cli_human_bytes(s1, sizeof s1, (double)cp.bucket_bytes);
  sb_printf(&b, "plan: %d process%s, %d communicator group%s, %d bucket%s of at most %s; gradients are\n"
            "token-weighted means%s\n",
            R, R == 1 ? "" : "es", cp.ngroups, cp.ngroups == 1 ? "" : "s", cp.nbuckets, cp.nbuckets == 1 ? "" : "s", s1,
            clip && R > 1 ? "; the clipping norm is one f32 summed over the world" : "");
  sb_puts(&b, "\nbuckets, in issue order (group: modules, tensors, bytes):\n");
  for (int k = 0; k < cp.nbuckets; k++) {
    const CommBucket *bk = &cp.buckets[k];
    sb_printf(&b, "  b%-3d %-18s", k, cp.groups[bk->group].name);
    for (int i = 0; i < bk->n; i++)
      if (i == 0 || bk->members[i].module != bk->members[i - 1].module)
        sb_printf(&b, " %s", p->modules.v[bk->members[i].module].name);
    cli_human_bytes(s1, sizeof s1, (double)bk->bytes);
    sb_printf(&b, "  (%d tensor%s, %s%s)\n", bk->n, bk->n == 1 ? "" : "s", s1,
              bk->every > 1 ? ", every few steps" : "");
  }
  for (int m = 0; m < p->modules.n; m++)
    if (cp.modules[m].kind == COMM_OUTER)
    {
      int trimmed = pd.variant == 2 && pd.table[m] >= 0; /* DEPT_TRIM */
      cli_human_bytes(s1, sizeof s1, (double)pd.dense[m]);
      sb_printf(&b, "  rounds %s on %s: parameters averaged every %d steps (no per-step traffic; %s%s%s%s)\n",
                p->modules.v[m].name, cp.groups[cp.modules[m].group].name, cp.modules[m].every,
                trimmed && !pd.dense[m] ? "" : s1, trimmed && !pd.dense[m] ? "" : " per holder per round",
                trimmed ? (pd.dense[m] ? ", and the rows of its trimmed table" : "the rows of its trimmed table each holder trained")
                        : "",
                ds.sources_per_round > 0 ? "; only the holders of a round's drawn sources send: one broadcast brings "
                                           "the result to those that sat out"
                                         : "");
    }
  sb_puts(&b, "\nmodules held (communicated ones marked *):\n");
  for (int rk = 0; rk < R; rk++) {
    sb_printf(&b, "  rank %d:", rk);
    for (int m = 0; m < p->modules.n; m++)
      for (int i = 0; i < p->modules.v[m].ranks.n; i++)
        if (p->modules.v[m].ranks.v[i] == rk)
          sb_printf(&b, " %s%s", p->modules.v[m].name, cp.modules[m].kind == COMM_EVERY ? "*" : "");
    sb_putc(&b, '\n');
  }
  int *gor = calloc((size_t)R, sizeof(int));
  CommBytes *exp_ = calloc((size_t)R, sizeof(CommBytes)), *at = calloc((size_t)R, sizeof(CommBytes));
  CommStep st;
  int ok = gor && exp_ && at && comm_step_alloc(&cp, &st);
  if (ok) {
    dist_graphs_at(&ds, step, gor);
    comm_schedule(&cp, step, gor, &st);
    comm_step_bytes(&cp, &st, clip, at);
    plan_dept_round_bytes(&pd, step, at); /* the rounds that end after this step */
    ok = expected_over_run(&ds, &cp, cfg->train.steps, clip, exp_);
    if (ok) plan_dept_expected(&pd, exp_);
    sb_printf(&b, "\nstep %lld: ", step);
    for (int rk = 0; rk < R; rk++)
      sb_printf(&b, "%srank %d %s", rk ? ", " : "", rk, gor[rk] >= 0 ? ir_graph_name(l.prog, &p->graphs.v[gor[rk]]) : "-");
    int active = 0;
    for (int k = 0; k < cp.nbuckets; k++) active += st.slots[k].active;
    sb_printf(&b, "\n  %d of %d buckets active (the others: no holder trained them)\n", active, cp.nbuckets);
    sb_puts(&b, "\nbytes sent per step (wire model; minimum = the lower bound; mammoth = all holders all-reduce,\n"
                "zeros from those that did not train; control = token counts and the norm):\n");
    sb_printf(&b, "%-6s %11s  %s   %s\n", "", "", "|---------- expected per step, over the run -----------|",
              "|---------------- at this step ---------------|");
    sb_printf(&b, "%-6s %11s  %11s %11s %11s %11s %8s   %11s %11s %11s %11s\n", "rank", "held", "wire", "minimum",
              "payload", "mammoth", "control", "wire", "minimum", "payload", "mammoth");
    CommBytes te = {0}, ts = {0};
    double th = 0;
    for (int rk = 0; rk < R; rk++) {
      double held = 0;
      for (int m = 0; m < p->modules.n; m++)
        for (int i = 0; i < p->modules.v[m].ranks.n; i++)
          if (p->modules.v[m].ranks.v[i] == rk) held += (double)place_module_bytes(p, m);
      char who[16];
      snprintf(who, sizeof who, "%d", rk);
      row(&b, who, held, &exp_[rk], &at[rk]);
      th += held;
      te.wire += exp_[rk].wire, te.minimum += exp_[rk].minimum, te.payload += exp_[rk].payload;
      te.mammoth += exp_[rk].mammoth, te.control += exp_[rk].control;
      ts.wire += at[rk].wire, ts.minimum += at[rk].minimum, ts.mammoth += at[rk].mammoth;
      ts.payload += at[rk].payload;
    }
    row(&b, "total", th, &te, &ts);
    sb_puts(&b, "  (wire and payload include the outer rounds that end at a step; minimum, mammoth and control\n"
                "  are the per-step gradient exchange only)\n");
    plan_dept_print(&b, &pd);
    comm_step_free(&st);
  }
  free(gor);
  free(exp_);
  free(at);
  rc = !ok || b.failed ? EXIT_INTERNAL : cli_write_output(o.out, b.s ? b.s : "", b.len);
  sb_free(&b);
  plan_dept_free(&pd);
  cli_loaded_free(&l);
  return rc;
}

const Cmd cmd_plan = {
    "plan", run_plan, "print the communication plan of a distributed run and its bytes per rank",
    "usage: mamc plan MODEL.mam --config RUN.yaml [--processes N] [--step S] [-o OUT]\n\n"
    "Places the tasks (as mamc place) and prints the communication plan every rank derives:\n"
    "the gradient buckets in issue order with their communicator groups, the task each rank\n"
    "trains at step S (default 0) and which buckets are active then, and per rank the bytes\n"
    "sent per step — expected over the sampling schedule of the whole run, and at step S —\n"
    "beside the theoretical minimum and MAMMOTH's scheme. Bucket size: train.bucket_mb.\n"
    "Definitions: docs/distributed.md. `mamc ir --after comm --rank R` shows the collectives.\n"};
