/* plan_dept.c — `mamc plan`'s outer rounds and DEPT (docs/dept.md): the bytes each rank hands
 * to MPI at the end of each round, as the trainer sends them (runtime/trainer_sync.c:
 * tsync_outer), the embedding memory per rank, and the variants compared on this model with
 * the paper's formulas (passes/dept.h: dept_cost).
 *
 * A round of module m (outer, or every(n > 1); >= 2 holders) ends after step s when
 * (s + 1) % every == 0. Its participants are the K holders that trained m at some step of
 * the round (the schedule with dept.sources_per_round's draw: dist_graphs_at). With D the
 * bytes of m's trainable parameters (f32) except its trimmed tables:
 *   K = H (every holder)   one all-reduce: each holder hands over D (wire 2(H - 1)/H D);
 *   0 < K < H              a reduction among the K onto the lowest of them (each other
 *                          participant hands over D, wire D), which broadcasts the sum to
 *                          the H holders (D at the root, wire (H - 1) D); the H - K that sat
 *                          out send nothing;
 *   K = 0                  nothing.
 * For a trimmed table (TRIM) each holder broadcasts the rows its tasks of the round use (the
 * union of their vocabularies, tokenized from their training text as the trainer does) to the
 * others. The runtime: runtime/trainer_sync.c, tsync_outer.
 */
#include "plan_dept.h"

#include <stdlib.h>

#include "dept.h"
#include "rounds.h"

/* ---- set-up ----------------------------------------------------------------------------------- */

static int64_t numel(const IrType *t) {
  int64_t e = 1;
  for (int r = 0; r < t->rank; r++) e *= t->d[r].add;
  return e;
}

static int trainable(const IrParam *q) { return !q->frozen && dtype_is_float(q->type.dt); }

/* The rows the copy's training text uses under its task's vocabulary (TRIM's V_k). */
static int copy_rows(PlanDept *pd, const RunConfig *cfg, const IrProgram *p, const PlaceCopy *pc, int64_t V,
                     Arena *a, Diag *d) {
  const CfgTask *t = &cfg->tasks.v[pc->task];
  CorpusSpec cs = {0};
  cs.stride = pc->stride, cs.offset = pc->offset;
  if (t->path.s) {
    cs.tsv = config_resolve_path(a, cfg, t->path.s);
  } else {
    const char **files = ARENA_ARRAY(a, const char *, 2);
    files[0] = config_resolve_path(a, cfg, t->path_src.s);
    files[1] = config_resolve_path(a, cfg, t->path_tgt.s);
    cs.files = files, cs.nfiles = 2;
  }
  const IrGraph *g = &p->graphs.v[pc->task];
  int nin = 0, cols[2] = {0, 1};
  for (int i = 0; i < g->nodes.n; i++) nin += g->nodes.v[i].op == OP_INPUT;
  for (int i = 0; i < t->columns.n && i < 2; i++) cols[i] = t->columns.v[i];
  int ncols = nin == 2 && cols[0] != cols[1] ? 2 : 1;
  const CfgVocab *v = t->vocabs.n ? cfg_vocab_find(cfg, t->vocabs.v[0].s) : NULL;
  Corpus c;
  if (!v || corpus_load(&c, a, d, &cs) != 0) return v ? 0 : (diag_plain(d, "task %s: no vocabulary", t->name.s), 0);
  Tokenizer *tok = v->kind == CFG_VOCAB_BPE ? tokenizer_load(config_resolve_path(a, cfg, v->path.s), d)
                                            : tokenizer_byte();
  char err[256];
  PlanRows *pr = &pd->rows[pc->rank][pc->task];
  int ok = tok && dept_vocab_rows(&c, cols, ncols, tok, V, &pr->ids, &pr->n, err, sizeof err);
  if (tok && !ok) diag_plain(d, "task %s: %s", t->name.s, err);
  tokenizer_free(tok);
  return ok;
}

int plan_dept_build(const RunConfig *cfg, const IrProgram *p, const DistSetup *ds, const CommPlan *cp, Arena *a,
                    PlanDept *pd, Diag *d) {
  memset(pd, 0, sizeof *pd);
  int R = ds->nranks, G = p->graphs.n, M = p->modules.n;
  pd->p = p, pd->ds = ds, pd->cp = cp;
  pd->variant = (int)cfg->dept.variant;
  pd->steps = cfg->train.steps;
  pd->dense = ARENA_ARRAY(a, int64_t, M + 1);
  pd->table = ARENA_ARRAY(a, int, M + 1);
  pd->rows = ARENA_ARRAY(a, PlanRows *, R + 1);
  for (int r = 0; r < R; r++) pd->rows[r] = ARENA_ARRAY(a, PlanRows, G + 1);
  pd->table_param = -1;
  for (int m = 0; m < M; m++) {
    const IrModule *mod = &p->modules.v[m];
    pd->table[m] = -1;
    for (int q = 0; q < mod->params.n; q++) {
      if (!trainable(&mod->params.v[q])) continue;
      int tab = pd->variant != DEPT_NONE && dept_is_table(p, m, q);
      if (tab && pd->table_param < 0) pd->table_module = m, pd->table_param = q;
      if (tab) pd->table[m] = q;
      if (pd->variant == DEPT_TRIM && dept_is_trimmed(p, m, q)) continue;
      pd->dense[m] += 4 * numel(&mod->params.v[q].type);
    }
  }
  if (pd->variant == DEPT_NONE || pd->table_param < 0) return 1;
  /* every copy's vocabulary rows: TRIM's round bytes need them; the other variants only
   * report them, and go on without (data not fetched yet) */
  Diag scratch;
  diag_init(&scratch);
  Diag *rd = pd->variant == DEPT_TRIM ? d : &scratch;
  int ok = 1;
  for (int c = 0; ok && c < ds->pl.ncopies; c++) {
    const PlaceCopy *pc = &ds->pl.copies[c];
    int64_t V = 0;
    for (int m = 0; m < M; m++)
      for (int i = 0; pd->table[m] >= 0 && i < p->modules.v[m].used_by.n; i++)
        if (p->modules.v[m].used_by.v[i] == pc->task) V = p->modules.v[m].params.v[pd->table[m]].type.d[0].add;
    if (V > 0) ok = copy_rows(pd, cfg, p, pc, V, a, rd);
  }
  pd->rows_unknown = !ok;
  diag_free(&scratch);
  return ok || pd->variant != DEPT_TRIM;
}

void plan_dept_free(PlanDept *pd) {
  for (int r = 0; pd->rows && r < pd->ds->nranks; r++)
    for (int g = 0; g < pd->p->graphs.n; g++) free(pd->rows[r][g].ids);
}

/* ---- the rounds ------------------------------------------------------------------------------------- */

/* |union of the rows of the graphs rank r trained in steps [s0, s1] that read module m| */
static int64_t round_rows(const PlanDept *pd, int r, int m, int64_t s0, int64_t s1, char *mark, int64_t V,
                          int *gor) {
  memset(mark, 0, (size_t)V);
  int64_t n = 0;
  for (int64_t t = s0; t <= s1; t++) {
    dist_graphs_at(pd->ds, t, gor);
    int g = gor[r];
    if (g < 0 || !pd->cp->trains[m][g]) continue;
    const PlanRows *pr = &pd->rows[r][g];
    for (int64_t i = 0; i < pr->n; i++)
      if (pr->ids[i] < V && !mark[pr->ids[i]]) mark[pr->ids[i]] = 1, n++;
  }
  return n;
}

void plan_dept_round_bytes(const PlanDept *pd, int64_t s, CommBytes *pr) {
  const IrProgram *p = pd->p;
  int R = pd->ds->nranks;
  int *gor = malloc(sizeof(int) * (size_t)(R + 1));
  char *in = malloc((size_t)R + 1); /* per holder index: it trained m in the round */
  for (int m = 0; gor && in && m < p->modules.n; m++) {
    const CommModule *cm = &pd->cp->modules[m];
    const IrModule *mod = &p->modules.v[m];
    if (cm->kind != COMM_OUTER || !comm_outer_due(pd->cp, m, s) || mod->ranks.n < 2) continue;
    int H = mod->ranks.n, K = 0, root = -1;
    int64_t s0 = s + 1 - cm->every;
    memset(in, 0, (size_t)H);
    for (int64_t t = s0 < 0 ? 0 : s0; t <= s; t++) {
      dist_graphs_at(pd->ds, t, gor);
      for (int i = 0; i < H; i++) in[i] |= gor[mod->ranks.v[i]] >= 0 && pd->cp->trains[m][gor[mod->ranks.v[i]]];
    }
    for (int i = 0; i < H; i++)
      if (in[i]) K++, root = root < 0 ? i : root;
    if (!K) continue;
    double D = (double)pd->dense[m];
    for (int i = 0; i < H; i++) {
      CommBytes *b = &pr[mod->ranks.v[i]];
      if (K == H) { /* everyone trained: one all-reduce over the holders */
        b->payload += D;
        b->wire += 2.0 * (H - 1) / H * D;
      } else if (i == root) { /* some sat out: the participants' sum, broadcast to every holder */
        b->payload += D;
        b->wire += (H - 1) * D;
      } else if (in[i]) { /* a participant's share of the reduction onto the root */
        b->payload += D;
        b->wire += D;
      }
    }
    int q = pd->table[m];
    if (pd->variant != DEPT_TRIM || q < 0 || !dept_is_trimmed(p, m, q)) continue;
    const IrType *tt = &mod->params.v[q].type;
    int64_t V = tt->d[0].add, row = numel(tt) / (V ? V : 1);
    char *mark = malloc((size_t)V + 1);
    for (int i = 0; mark && i < H; i++) {
      int r = mod->ranks.v[i];
      double b = 4.0 * (double)(round_rows(pd, r, m, s0 < 0 ? 0 : s0, s, mark, V, gor) * row);
      pr[r].payload += b;
      pr[r].wire += (H - 1) * b;
    }
    free(mark);
  }
  free(gor);
  free(in);
}

/* ---- the report -------------------------------------------------------------------------------------- */

static double mean_rows(const PlanDept *pd, int r, int *count) { /* over the graphs rank r trains */
  double s = 0;
  int n = 0;
  for (int g = 0; g < pd->p->graphs.n; g++)
    if (pd->rows[r][g].n) s += (double)pd->rows[r][g].n, n++;
  *count = n;
  return n ? s / n : 0;
}

void plan_dept_print(StrBuf *b, const PlanDept *pd) {
  const IrProgram *p = pd->p;
  int R = pd->ds->nranks;
  if (pd->variant == DEPT_NONE || pd->table_param < 0) return;
  const IrModule *tm = &p->modules.v[pd->table_module];
  const IrType *tt = &tm->params.v[pd->table_param].type;
  int64_t V = tt->d[0].add, row = numel(tt) / (V ? V : 1);
  int every = 0;
  for (int m = 0; m < p->modules.n; m++)
    if (pd->cp->modules[m].kind == COMM_OUTER && (!every || pd->cp->modules[m].every > every))
      every = pd->cp->modules[m].every;
  double body = 0;
  for (int m = 0; m < p->modules.n; m++)
    for (int q = 0; q < p->modules.v[m].params.n; q++) {
      if (!trainable(&p->modules.v[m].params.v[q])) continue;
      if (!dept_is_table(p, m, q)) body += (double)numel(&p->modules.v[m].params.v[q].type);
    }
  char s1[64], s2[64];
  sb_printf(b, "\nDEPT (dept: %s; docs/dept.md): embedding table %s.%s [%lld x %lld], rounds every %d steps\n",
            dept_variant_name((DeptVariant)pd->variant), tm->name, tm->params.v[pd->table_param].name, (long long)V,
            (long long)row, every);
  sb_printf(b, "%-6s %-12s %12s %14s\n", "rank", "vocab rows", "emb memory", "as the paper");
  double vk_sum = 0;
  int vk_n = 0;
  for (int r = 0; r < R; r++) {
    double held = 0, rows_r = 0;
    for (int m = 0; m < p->modules.n; m++) {
      int q = pd->table[m], h = 0;
      for (int i = 0; i < p->modules.v[m].ranks.n; i++) h |= p->modules.v[m].ranks.v[i] == r;
      if (q >= 0 && h) held += (double)numel(&p->modules.v[m].params.v[q].type);
    }
    int ng;
    rows_r = mean_rows(pd, r, &ng);
    if (ng) vk_sum += rows_r, vk_n++;
    double paper = pd->variant == DEPT_TRIM ? rows_r * (double)row : held; /* TRIM trains |V_k| rows */
    cli_human_bytes(s1, sizeof s1, 4 * held);
    cli_human_bytes(s2, sizeof s2, 4 * paper);
    sb_printf(b, "%-6d %5.0f/%-6lld %12s %14s\n", r, rows_r, (long long)V, s1, s2);
  }
  if (pd->rows_unknown) sb_puts(b, "  (vocab rows unknown: a training corpus or vocabulary does not load)\n");
  sb_puts(b, "  (vocab rows: the ids its training text uses, the mean over its tasks; emb memory: the tables it\n"
             "  holds as f32; as the paper: TRIM holds only its rows, |V_k| x d — mamc keeps the whole table,\n"
             "  whose other rows it never reads)\n");
  DeptCostIn in = {body, (double)V, vk_n ? vk_sum / vk_n : (double)V, (double)row, 0, every ? every : 1};
  sb_printf(b, "\nthe variants on this model, per rank (f32; the formulas of the paper's §B.4: body %.0f, |V| %.0f,\n"
               "mean |V_k| %.0f, d %.0f, N_local %.0f):\n",
            in.body, in.V, in.Vk, in.d, in.n_local);
  sb_printf(b, "  %-8s %12s %14s %14s\n", "variant", "emb memory", "sent / round", "per step");
  static const DeptVariant vs[] = {DEPT_NONE, DEPT_GLOB, DEPT_TRIM, DEPT_SPEC};
  for (int i = 0; i < 4; i++) {
    DeptCost c = dept_cost(vs[i], &in);
    char s3[64];
    cli_human_bytes(s1, sizeof s1, 4 * c.emb);
    cli_human_bytes(s2, sizeof s2, 4 * c.round);
    cli_human_bytes(s3, sizeof s3, 4 * c.per_step);
    static const char *const upper[] = {"STD", "GLOB", "TRIM", "SPEC"};
    sb_printf(b, "  %-8s %12s %14s %14s%s\n", upper[vs[i]], s1,
              vs[i] == DEPT_NONE ? "-" : s2, s3, vs[i] == (DeptVariant)pd->variant ? "   <- this run" : "");
  }
}

void plan_dept_expected(const PlanDept *pd, CommBytes *pr) {
  int R = pd->ds->nranks, outer = 0;
  for (int m = 0; m < pd->p->modules.n; m++) outer |= pd->cp->modules[m].kind == COMM_OUTER;
  CommBytes *one = calloc((size_t)R + 1, sizeof(CommBytes));
  for (int64_t s = 0; outer && one && s < pd->steps; s++) {
    memset(one, 0, sizeof(CommBytes) * (size_t)R);
    plan_dept_round_bytes(pd, s, one);
    for (int r = 0; r < R; r++) {
      pr[r].payload += one[r].payload / (double)pd->steps;
      pr[r].wire += one[r].wire / (double)pd->steps;
    }
  }
  free(one);
}
