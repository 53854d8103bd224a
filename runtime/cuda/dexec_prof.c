/* dexec_prof.c — where a run's device time goes (dexec.h: dexec_profile_on / _report): with
 * profiling on, dexec_run records a CUDA event before and after every planned step (a fused
 * group, a product, a hand-written kernel's node, a host fallback; host wall time in the
 * emulation), and after the run reads them and adds each step's time to its node. The report
 * lists the steps by total time with their share of the profiled runs' sum, and the bytes each
 * step names — its operands from outside the step and its results, once each, in their stored
 * dtypes — as GB/s over its time: a model of the step's memory traffic (a product's re-reads
 * of tiles, a window's partial reads are not in it), to see which steps are far from the
 * memory's bandwidth. Events between every step cost a few microseconds each: profile in
 * runs of their own, not the timed ones. */
#include <stdlib.h>

#include "dexec_internal.h"

struct DProf {
  DevEvent *before, *after; /* per node (the step's first node) */
  char *rec;                /* per node: recorded in this run */
  double *ms;               /* per node: total over the profiled runs */
  int64_t *calls;
  int64_t *bytes;           /* per node: what the step names (operands + results), first run */
  char (*label)[96];        /* per node: what ran, with the shapes of its first profiled run */
  int runs;
};

static const IrGraph *G(const DExec *e) { return &e->p->graphs.v[e->graph]; }

int dexec_profile_on(DExec *e) {
  if (e->prof) return 1;
  struct DProf *p = calloc(1, sizeof *p);
  size_t n = (size_t)e->n + 1;
  if (p) {
    p->before = calloc(n, sizeof *p->before), p->after = calloc(n, sizeof *p->after), p->rec = calloc(n, 1);
    p->ms = calloc(n, sizeof *p->ms), p->calls = calloc(n, sizeof *p->calls), p->label = calloc(n, sizeof *p->label);
    p->bytes = calloc(n, sizeof *p->bytes);
  }
  if (!p || !p->before || !p->after || !p->rec || !p->ms || !p->calls || !p->label || !p->bytes) {
    e->prof = p;
    dx_prof_free(e);
    return snprintf(e->err, sizeof e->err, "out of memory"), 0;
  }
  e->prof = p;
  return 1;
}

void dx_prof_free(DExec *e) {
  struct DProf *p = e->prof;
  if (!p) return;
  for (int i = 0; p->before && p->after && i <= e->n; i++) dev_event_free(e->dev, &p->before[i]), dev_event_free(e->dev, &p->after[i]);
  free(p->before), free(p->after), free(p->rec), free(p->ms), free(p->calls), free(p->label), free(p->bytes);
  free(p);
  e->prof = NULL;
}

/* the step's text: its kind, its ops (a group's first few), its result's shape */
static void label(DExec *e, int first, int last, const int64_t *sym, char *out, size_t n) {
  const IrGraph *g = G(e);
  int64_t sh[IR_MAX_RANK];
  char ops[64] = "", shape[48];
  size_t o = 0;
  for (int j = first; j <= last && o + 16 < sizeof ops; j++) {
    if (g->nodes.v[j].op == OP_CONST || g->nodes.v[j].op == OP_PARAM) continue;
    o += (size_t)snprintf(ops + o, sizeof ops - o, "%s%s", o ? "+" : "", op_info(g->nodes.v[j].op)->name);
  }
  if (o + 16 >= sizeof ops) snprintf(ops + sizeof ops - 4, 4, "...");
  int r = dx_shape(e, last, sym, sh);
  rt_shape_str(shape, sizeof shape, r, sh);
  const char *kind = dexec_kind_name(e->kind[first]);
  if (e->kind[first] == DN_GROUP && dx_lt_group(&e->groups[e->grp[first]])) kind = "gemm+epi";
  snprintf(out, n, "%-8s %%%d %s %s", kind, last, ops, shape);
}

static int64_t value_bytes(const DExec *e, int v, const int64_t *sym) {
  return dx_numel(e, v, sym) * (e->st[v] ? 2 : dtype_size(G(e)->nodes.v[v].type.dt));
}

/* the bytes step first..last names: operands read from outside it (each once) and the values
 * it writes that are read after it (its last node's always) */
static int64_t step_bytes(const DExec *e, int first, int last, const int64_t *sym) {
  const IrGraph *g = G(e);
  int64_t b = 0;
  for (int j = first; j <= last; j++) {
    const IrNode *n = &g->nodes.v[j];
    for (int k = 0; k < n->nin; k++) {
      int x = n->in[k], seen = x >= first && x <= last;
      for (int j2 = first; j2 <= j && !seen; j2++)
        for (int k2 = 0; k2 < (j2 == j ? k : g->nodes.v[j2].nin) && !seen; k2++) seen = g->nodes.v[j2].in[k2] == x;
      if (!seen) b += value_bytes(e, x, sym);
    }
    if (j == last || e->last_use[j] > last) b += value_bytes(e, j, sym);
  }
  return b;
}

int dx_prof_mark(DExec *e, int first, int after) {
  struct DProf *p = e->prof;
  if (e->dev->capturing) return 1; /* a captured run is not profiled (its events would be replayed) */
  if (!dev_event_record(e->dev, after ? &p->after[first] : &p->before[first])) return dx_dev_fail(e, first);
  if (after) p->rec[first] = 1;
  return 1;
}

int dx_prof_collect(DExec *e, const int64_t *sym) {
  struct DProf *p = e->prof;
  for (int i = 0; i < e->n; i++) {
    if (!p->rec[i]) continue;
    double ms = 0;
    if (!dev_event_ms(e->dev, &p->before[i], &p->after[i], &ms)) return dx_dev_fail(e, i);
    int last = e->kind[i] == DN_GROUP ? e->groups[e->grp[i]].first + e->groups[e->grp[i]].count - 1 : i;
    if (!p->calls[i]) {
      label(e, i, last, sym, p->label[i], sizeof p->label[i]);
      p->bytes[i] = step_bytes(e, i, last, sym);
    }
    p->ms[i] += ms;
    p->calls[i]++;
    p->rec[i] = 0;
  }
  p->runs++;
  return 1;
}

static const double *cmp_ms;
static int by_ms(const void *a, const void *b) {
  double x = cmp_ms[*(const int *)a], y = cmp_ms[*(const int *)b];
  return x > y ? -1 : x < y ? 1 : *(const int *)a - *(const int *)b;
}

void dexec_profile_report(const DExec *e, StrBuf *b, int top) {
  const struct DProf *p = e->prof;
  if (!p || !p->runs) {
    sb_puts(b, "(no profiled runs)\n");
    return;
  }
  int *idx = malloc(sizeof(int) * ((size_t)e->n + 1)), m = 0;
  double total = 0, kinds[DN_KIND_COUNT + 1] = {0}, bytes = 0;
  for (int i = 0; idx && i < e->n; i++)
    if (p->calls[i]) idx[m++] = i, total += p->ms[i], kinds[e->kind[i]] += p->ms[i], bytes += (double)p->bytes[i];
  if (!idx) return;
  cmp_ms = p->ms;
  qsort(idx, (size_t)m, sizeof *idx, by_ms);
  sb_printf(b, "%d profiled runs, %.3f ms a run in %d steps naming %.1f MB (operands + results); by kind:", p->runs,
            total / p->runs, m, bytes / 1e6);
  for (int k = 0; k < DN_KIND_COUNT; k++)
    if (kinds[k] > 0) sb_printf(b, " %s %.1f%%", dexec_kind_name((DKind)k), 100 * kinds[k] / total);
  sb_puts(b, "\n   ms/run      %      MB    GB/s  step\n");
  for (int j = 0; j < m && j < top; j++) {
    int i = idx[j];
    double ms = p->ms[i] / p->runs;
    sb_printf(b, "%9.4f %6.2f %7.1f %7.1f  %s\n", ms, total > 0 ? 100 * p->ms[i] / total : 0, (double)p->bytes[i] / 1e6,
              ms > 0 ? (double)p->bytes[i] / (ms * 1e6) : 0, p->label[i]);
  }
  /* the same steps summed by what they are: the label without its node (e.g. every layer's
   * "kernel reduce_sum+reduce_sum [512]" together), the `top` largest */
  char(*key)[sizeof p->label[0]] = malloc(sizeof *key * ((size_t)m + 1));
  double *kms = calloc((size_t)m + 1, sizeof(double)), *kmb = calloc((size_t)m + 1, sizeof(double));
  int *kn = calloc((size_t)m + 1, sizeof(int)), nk = 0;
  for (int j = 0; key && kms && kmb && kn && j < m; j++) {
    const char *l = p->label[idx[j]], *pc = strchr(l, '%');
    char k[sizeof p->label[0]];
    size_t h = pc ? (size_t)(pc - l) : strlen(l);
    snprintf(k, sizeof k, "%.*s%s", (int)h, l, pc ? pc + strcspn(pc, " ") : "");
    int f = 0;
    while (f < nk && strcmp(key[f], k)) f++;
    if (f == nk) memcpy(key[nk++], k, sizeof k);
    kms[f] += p->ms[idx[j]] / p->runs, kmb[f] += (double)p->bytes[idx[j]], kn[f]++;
  }
  if (nk) sb_puts(b, "   by what they are (summed over the graph's steps of each):\n  ms/run      %  steps    GB/s  what\n");
  for (int r = 0; r < nk && r < top; r++) { /* the largest left, each in turn (nk is a few hundred at most) */
    int best = -1;
    for (int f = 0; f < nk; f++)
      if (kn[f] && (best < 0 || kms[f] > kms[best])) best = f;
    if (best < 0) break;
    sb_printf(b, "%9.4f %6.2f %6d %7.1f  %s\n", kms[best], total > 0 ? 100 * kms[best] * p->runs / total : 0, kn[best],
              kms[best] > 0 ? kmb[best] / (kms[best] * 1e6) : 0, key[best]);
    kn[best] = 0;
  }
  free(key), free(kms), free(kmb), free(kn);
  free(idx);
}

int dexec_profile_steps(const DExec *e, double *ms_per_run) {
  const struct DProf *p = e->prof;
  int m = 0;
  double total = 0;
  for (int i = 0; p && p->runs && i < e->n; i++)
    if (p->calls[i]) m++, total += p->ms[i];
  *ms_per_run = p && p->runs ? total / p->runs : 0;
  return m;
}

double dexec_profile_bytes(const DExec *e) {
  const struct DProf *p = e->prof;
  double b = 0;
  for (int i = 0; p && i < e->n; i++)
    if (p->calls[i]) b += (double)p->bytes[i];
  return b;
}
