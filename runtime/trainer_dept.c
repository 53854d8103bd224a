/* trainer_dept.c — DEPT in the trainer (docs/dept.md): the sources that sit a round out
 * (dept.sources_per_round, Algorithm 1's random subset S_r), and the TRIM variant: each
 * task's vocabulary (the global ids its training text uses), the local ids and the
 * vocab_rows input its trimmed training graph reads, the tokens behind each row in a round,
 * and at the end of a round the exchange of the rows each holder trained — the masked mean
 * of runtime/rounds.h.
 *
 * The round's rows, per trimmed table, after the counts are known (tsync_outer's first
 * reduction): each holder in ascending rank order broadcasts its trained rows to the others
 * as one buffer of floats — its ids (int32 bits), their token weights (f64 bits, two slots
 * each), then the rows — and every holder adds every contribution in that order, so all end
 * with the same bits. Payload: rows × row × 4 bytes at the holder that sends them (the ids
 * and weights are control bytes, as the token counts of the per-step exchange are).
 */
#include <stdlib.h>

#include "rounds.h"
#include "dist.h"
#include "trainer_internal.h"

#define ROWS_INPUT "vocab_rows" /* passes/dept.h: DEPT_ROWS_INPUT */

int tdept_is_rows_input(const IrNode *n) { return n->op == OP_INPUT && n->name && strcmp(n->name, ROWS_INPUT) == 0; }

/* ---- set-up ------------------------------------------------------------------------------------- */

/* The trimmed tables graph g reads (trim_gather of a parameter), as ParamStore indices. */
static int graph_trims(const Trainer *t, const IrGraph *g, int *q, int64_t *V) {
  int n = 0;
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    if (nd->op != OP_TRIM_GATHER) continue;
    const IrNode *p = &g->nodes.v[nd->in[0]];
    if (p->op != OP_PARAM) continue;
    int pq = t->params.first[p->module] + p->param, dup = 0;
    for (int j = 0; j < n; j++) dup |= q[j] == pq;
    if (!dup) q[n++] = pq;
    *V = p->type.d[0].add;
  }
  return n;
}

int tdept_setup(Trainer *t, Diag *d) {
  int nq = t->params.n;
  int K = t->opts.sources_per_round, N = t->opts.nsources;
  if (K > 0 && K < N) { /* dept.sources_per_round: Algorithm 1's random subset of the sources */
    if (t->opts.round_every < 1 || !t->has_outer)
      return diag_plain(d, "dept.sources_per_round needs outer rounds (sync: outer: {every: H})"), 0;
    for (int k = 0; k < t->ntasks; k++)
      if (t->tasks[k].spec.graph < 0 || t->tasks[k].spec.graph >= N)
        return diag_plain(d, "task %s is not one of the run's %d sources", t->tasks[k].spec.name, N), 0;
    t->round_in = calloc((size_t)N, 1);
    t->round_runs = calloc(2 * (size_t)t->nranks, sizeof(double)); /* runs, then round payload */
    t->round_drawn = -1;
    if (!t->round_in || !t->round_runs) return diag_plain(d, "out of memory"), 0;
  }
  t->row_tokens = calloc((size_t)nq + 1, sizeof(double *));
  int *q = malloc(sizeof(int) * ((size_t)nq + 1));
  if (!t->row_tokens || !q) {
    free(q);
    return diag_plain(d, "out of memory"), 0;
  }
  /* the trimmed tables: read through trim_gather by some graph of the program (the same on
   * every rank, so every holder takes part in their row exchange) */
  for (int gi = 0; gi < t->train->graphs.n; gi++) {
    int64_t V = 0;
    int n = graph_trims(t, &t->train->graphs.v[gi], q, &V);
    for (int j = 0; j < n; j++) {
      int m = 0;
      while (t->params.first[m + 1] <= q[j]) m++;
      if (!t->held[m] || t->row_tokens[q[j]]) continue;
      if (!(t->row_tokens[q[j]] = calloc((size_t)V, sizeof(double)))) {
        free(q);
        return diag_plain(d, "out of memory"), 0;
      }
    }
  }
  for (int k = 0; k < t->ntasks; k++) {
    TTask *tk = &t->tasks[k];
    int64_t V = 0;
    const IrGraph *g = &t->train->graphs.v[tk->spec.graph];
    int n = graph_trims(t, g, q, &V);
    if (!n || !tk->owned) continue;
    int nin = 0;
    for (int i = 0; i < g->nodes.n; i++) nin += g->nodes.v[i].op == OP_INPUT && !tdept_is_rows_input(&g->nodes.v[i]);
    if (nin == 2 && tk->spec.src_vocab != tk->spec.tgt_vocab) {
      free(q);
      diag_plain(d, "task %s: dept: trim needs one global vocabulary, but its source and target vocabularies differ",
                 tk->spec.name);
      return 0;
    }
    int cols[2] = {nin == 2 ? tk->spec.src_col : tk->spec.tgt_col, tk->spec.tgt_col};
    int ncols = nin == 2 && cols[0] != cols[1] ? 2 : 1;
    char err[256];
    if (!dept_vocab_rows(&tk->train, cols, ncols, t->toks[tk->spec.tgt_vocab], V, &tk->rows, &tk->nrows, err,
                         sizeof err)) {
      free(q);
      diag_plain(d, "task %s: dept: trim: %s", tk->spec.name, err);
      return 0;
    }
    tk->table_rows = V;
    tk->local = malloc(sizeof(int32_t) * (size_t)V);
    tk->trim_q = malloc(sizeof(int) * (size_t)n);
    if (!tk->local || !tk->trim_q) {
      free(q);
      return diag_plain(d, "out of memory"), 0;
    }
    for (int64_t v = 0; v < V; v++) tk->local[v] = -1;
    for (int64_t i = 0; i < tk->nrows; i++) tk->local[tk->rows[i]] = (int32_t)i;
    memcpy(tk->trim_q, q, sizeof(int) * (size_t)n);
    tk->ntrim_q = n;
  }
  free(q);
  return 1;
}

void tdept_free(Trainer *t) {
  for (int k = 0; k < t->ntasks && t->tasks; k++) {
    free(t->tasks[k].rows);
    free(t->tasks[k].local);
    free(t->tasks[k].trim_q);
  }
  for (int q = 0; t->row_tokens && q < t->params.n; q++) free(t->row_tokens[q]);
  free(t->row_tokens);
  free(t->round_in);
  free(t->round_runs);
}

/* ---- the sources of a round (dept.sources_per_round) ------------------------------------------------ */

/* The round of step index s (0-based) is s / H; its sources are drawn once (rounds.h:
 * dept_round_sources), identically on every rank. A rank whose task sits the round out does
 * not run it: no gradients, no optimizer step, no round tokens, so the round's weighted mean
 * is over the sources that trained (a holder that did not train adds 0 x its replica). */
void tdept_sit_out(Trainer *t, int *task_of_rank) {
  if (!t->round_in) return;
  int64_t round = t->step / t->opts.round_every;
  if (round != t->round_drawn) {
    dept_round_sources(t->opts.sampling_seed, round, t->opts.nsources, t->opts.sources_per_round, t->round_in);
    t->round_drawn = round;
  }
  for (int r = 0; r < t->nranks; r++) {
    int k = task_of_rank[r];
    if (k >= 0 && !t->round_in[t->tasks[k].spec.graph]) task_of_rank[r] = -1;
  }
}

/* At the end of a round: the task runs of each rank in it and the payload each rank handed to
 * MPI in the round's exchange (tsync_outer), summed over the processes (control bytes), and
 * one metrics line — the drawn sources, the ranks that trained, what each sent — then the
 * counts restart. Every rank reaches it at the same steps (the rounds' ends). */
int tdept_sources_end(Trainer *t, int64_t step, char *err, size_t errlen) {
  int R = t->nranks;
  if (t->opts.dist && !dist_world_sum(t->opts.dist, t->round_runs, 2 * R, err, errlen)) return 0;
  if (t->metrics) {
    StrBuf b;
    sb_init(&b);
    sb_printf(&b, "{\"type\": \"sources\", \"round\": %lld, \"step\": %lld, \"drawn\": [",
              (long long)((step - 1) / t->opts.round_every + 1), (long long)step);
    for (int g = 0, n = 0; g < t->opts.nsources; g++) {
      if (!t->round_in[g]) continue;
      const char *name = "?";
      for (int k = 0; k < t->ntasks; k++)
        if (t->tasks[k].spec.graph == g) {
          name = t->tasks[k].spec.name;
          break;
        }
      sb_printf(&b, "%s\"%s\"", n++ ? ", " : "", name);
    }
    sb_puts(&b, "], \"runs\": [");
    for (int r = 0; r < R; r++) sb_printf(&b, "%s%.0f", r ? ", " : "", t->round_runs[r]);
    sb_puts(&b, "], \"sent\": [");
    for (int r = 0; r < R; r++) sb_printf(&b, "%s%.0f", r ? ", " : "", t->round_runs[R + r]);
    sb_puts(&b, "]}");
    trainer_log(t, b.s);
    sb_free(&b);
  }
  memset(t->round_runs, 0, sizeof(double) * 2 * (size_t)R);
  return 1;
}

/* ---- a step ------------------------------------------------------------------------------------------ */

/* The corpus inputs in[0 .. nin) carry global ids: map them to the task's local ids and
 * append its vocab_rows. Returns the new input count, 0 with a message. */
int tdept_inputs(Trainer *t, int k, Tensor *in, int nin, char *err, size_t errlen) {
  TTask *tk = &t->tasks[k];
  for (int i = 0; i < nin; i++) {
    int32_t *x = in[i].data;
    for (int64_t e = 0; e < in[i].n; e++) {
      int32_t id = x[e];
      if (id < 0 || id >= tk->table_rows || tk->local[id] < 0) {
        snprintf(err, errlen, "task %s: id %d is not in its TRIM vocabulary (the ids of its training text)",
                 tk->spec.name, (int)id);
        return 0;
      }
      x[e] = tk->local[id];
    }
  }
  int64_t shape[1] = {tk->nrows};
  if (!rt_tensor_alloc(&in[nin], DT_I32, 1, shape)) {
    snprintf(err, errlen, "out of memory");
    return 0;
  }
  memcpy(in[nin].data, tk->rows, sizeof(int32_t) * (size_t)tk->nrows);
  return nin + 1;
}

/* After task k ran on `tokens` target tokens: every row of its vocabulary, in every trimmed
 * table it reads, was trained on them. */
void tdept_count(Trainer *t, int k, double tokens) {
  const TTask *tk = &t->tasks[k];
  for (int j = 0; j < tk->ntrim_q; j++) {
    double *w = t->row_tokens[tk->trim_q[j]];
    for (int64_t i = 0; w && i < tk->nrows; i++) w[tk->rows[i]] += tokens;
  }
}

/* After parameters were loaded (a checkpoint, --init-from): the next round starts from them,
 * except for the parameters whose anchor the checkpoint restored (keep[q], may be NULL) —
 * with the outer momentum and the round's tokens (trainer_ckpt.c), a run resumed mid-round
 * repeats the uninterrupted one bit for bit. */
void tdept_reset_anchor(Trainer *t, const char *keep) {
  for (int q = 0; t->has_outer && q < t->params.n; q++)
    if (t->params.t[q].data && t->anchor.t[q].data && !(keep && keep[q]))
      memcpy(t->anchor.t[q].data, t->params.t[q].data, (size_t)t->params.t[q].n * (size_t)dtype_size(t->params.t[q].dt));
}

/* ---- the rounds as the runtime runs them ---------------------------------------------------------- */

static int trimmed_anywhere(const IrProgram *p, int m, int q) {
  for (int gi = 0; gi < p->graphs.n; gi++)
    for (int i = 0; i < p->graphs.v[gi].nodes.n; i++) {
      const IrNode *n = &p->graphs.v[gi].nodes.v[i];
      const IrNode *x = n->op == OP_TRIM_GATHER ? &p->graphs.v[gi].nodes.v[n->in[0]] : NULL;
      if (x && x->op == OP_PARAM && x->module == m && x->param == q) return 1;
    }
  return 0;
}

/* One metrics line per parameter a round combines, from the trainer's own groups (what
 * tsync_outer does): its holders, period, outer optimizer, elements, and whether its rows are
 * masked (TRIM) — the same fields as the outer_sync ops of the comm pass (rounds.h:
 * RoundSync), which tests/dept/outer_ir_test.sh compares with `mamc ir --after comm`. */
void tdept_log_rounds(Trainer *t) {
  const IrProgram *p = t->train;
  for (int gi = 0; t->metrics && gi < t->ngroups; gi++) {
    const TGroup *g = &t->groups[gi];
    if (g->sync.kind != SYNC_OUTER || g->nholders < 1) continue;
    StrBuf hb;
    sb_init(&hb);
    for (int h = 0; h < g->nholders; h++) sb_printf(&hb, "%s%d", h ? ", " : "", g->holders[h]);
    for (int i = 0; i < g->nmods; i++) {
      const IrModule *mod = &p->modules.v[g->mods[i]];
      for (int q = 0; q < mod->params.n; q++) {
        const IrParam *pq = &mod->params.v[q];
        if (pq->frozen || !dtype_is_float(pq->type.dt)) continue;
        int64_t n = 1;
        for (int k = 0; k < pq->type.rank; k++) n *= pq->type.d[k].add;
        char line[1024];
        snprintf(line, sizeof line,
                 "{\"type\": \"round\", \"group\": \"ranks[%s]\", \"param\": \"%s.%s\", \"every\": %d, "
                 "\"lr\": %.17g, \"momentum\": %.17g, \"nesterov\": %d, \"rows\": %d, \"numel\": %lld}",
                 hb.s ? hb.s : "", mod->name, pq->name, g->sync.every, g->sync.lr, g->sync.momentum,
                 g->sync.nesterov != 0, trimmed_anywhere(p, g->mods[i], q), (long long)n);
        trainer_log(t, line);
      }
    }
    sb_free(&hb);
  }
}

/* ---- the round --------------------------------------------------------------------------------------- */

int64_t tdept_rows_held(const Trainer *t, int q) {
  const double *w = t->row_tokens ? t->row_tokens[q] : NULL;
  int64_t n = 0, V = t->params.t[q].rank ? t->params.t[q].shape[0] : 0;
  for (int64_t i = 0; w && i < V; i++) n += w[i] > 0;
  return n;
}

/* The rows of trimmed table q at the end of a round of group g: counts[h] rows from holder h
 * (known to all), this process is holder `me`, comm the holders' communicator (-1: alone).
 * Every holder ends with the masked mean through the outer step (rounds.h); the row tokens
 * start again from zero. 1, or 0 with a message. */
int tdept_round_rows(Trainer *t, const TGroup *g, int q, const double *counts, int me, int comm, char *err,
                     size_t errlen) {
  Tensor *x = &t->params.t[q];
  int64_t V = x->shape[0], row = V ? x->n / V : 0;
  double *S = calloc((size_t)(V * row) + 1, sizeof(double)), *W = calloc((size_t)V + 1, sizeof(double));
  int ok = S && W;
  if (!ok) snprintf(err, errlen, "out of memory");
  for (int h = 0; ok && h < g->nholders; h++) {
    int64_t cnt = (int64_t)counts[h], nf = cnt * (3 + row);
    if (cnt <= 0) continue;
    float *buf = malloc(sizeof(float) * (size_t)nf);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cnt);
    double *w = malloc(sizeof(double) * (size_t)cnt);
    if (!buf || !ids || !w) {
      snprintf(err, errlen, "out of memory");
      ok = 0;
    }
    if (ok && h == me) { /* pack: ids, weights, rows */
      const double *rt = t->row_tokens[q];
      const float *xd = x->data;
      int64_t j = 0;
      for (int64_t i = 0; i < V && j < cnt; i++) {
        if (rt[i] <= 0) continue;
        int32_t id = (int32_t)i;
        memcpy(buf + j, &id, 4);
        memcpy(buf + cnt + 2 * j, &rt[i], 8);
        memcpy(buf + 3 * cnt + j * row, xd + i * row, sizeof(float) * (size_t)row);
        j++;
      }
    }
    if (ok && comm >= 0) {
      ok = dist_bcast(t->opts.dist, comm, buf, nf, h, err, errlen);
      if (ok && h == me) t->payload_bytes += 4 * cnt * row;
    }
    if (ok) {
      memcpy(ids, buf, sizeof(int32_t) * (size_t)cnt);
      memcpy(w, buf + cnt, sizeof(double) * (size_t)cnt);
      for (int64_t j = 0; j < cnt && ok; j++)
        if (ids[j] < 0 || ids[j] >= V) {
          snprintf(err, errlen, "a round received row %d of a table of %lld rows", (int)ids[j], (long long)V);
          ok = 0;
        }
      DeptRows c = {cnt, ids, w, buf + 3 * cnt};
      if (ok) dept_rows_add(S, W, row, &c);
    }
    free(buf), free(ids), free(w);
  }
  if (ok)
    dept_rows_finish(x->data, t->anchor.t[q].data, t->outer_m.t[q].data, S, W, V, row, g->sync.lr, g->sync.momentum,
                     g->sync.nesterov);
  if (t->row_tokens[q]) memset(t->row_tokens[q], 0, sizeof(double) * (size_t)V);
  free(S), free(W);
  return ok;
}
