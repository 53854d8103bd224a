/* nonfinite.c — the numerical guard's debug mode (nonfinite.h): one task graph re-run op by
 * op with the reference interpreter, stopping at the first value that is NaN or ±Inf. */
#include "nonfinite.h"

#include <math.h>
#include <stdlib.h>

#include "irtext.h"

int64_t nonfinite_find(const Tensor *t) {
  if (!t || !t->data || !dtype_is_float(t->dt)) return -1;
  if (t->dt == DT_F32) {
    const float *x = t->data;
    for (int64_t i = 0; i < t->n; i++)
      if (!isfinite(x[i])) return i;
    return -1;
  }
  if (t->dt == DT_F64) {
    const double *x = t->data;
    for (int64_t i = 0; i < t->n; i++)
      if (!isfinite(x[i])) return i;
    return -1;
  }
  for (int64_t i = 0; i < t->n; i++)
    if (!isfinite(rt_tensor_get(t, i))) return i;
  return -1;
}

/* "[0, 3, 1] of f32[2, 31, 16]" for flat index i of t */
static void where(char *buf, size_t len, const Tensor *t, int64_t i) {
  int64_t idx[IR_MAX_RANK];
  for (int d = t->rank - 1; d >= 0; d--) {
    idx[d] = t->shape[d] > 0 ? i % t->shape[d] : 0;
    i = t->shape[d] > 0 ? i / t->shape[d] : 0;
  }
  char a[160], b[160];
  rt_shape_str(a, sizeof a, t->rank, idx);
  rt_tensor_str(b, sizeof b, t);
  snprintf(buf, len, "%s of %s", t->rank ? a : "[]", b);
}

static const char *kind(double v) { return isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf"; }

static const char *module_name(const IrProgram *p, int m) {
  return m >= 0 && m < p->modules.n ? p->modules.v[m].name : "?";
}

static void describe_op(char *buf, size_t len, const IrGraph *g, int i) {
  const IrNode *n = &g->nodes.v[i];
  size_t at = (size_t)snprintf(buf, len, "op %%%d %s", irt_node_number(g, i), op_info(n->op)->name);
  if (at < len && n->loc.file)
    snprintf(buf + at, len - at, " (from %s:%d:%d)", n->loc.file->name, n->loc.line, n->loc.col);
}

static void describe_context(char *buf, size_t len, const IrProgram *p, const IrNode *n, int fwd) {
  size_t at = 0;
  if (fwd >= 0) at += (size_t)snprintf(buf, len, "%s pass", fwd ? "forward" : "backward");
  if (at < len && n->owner >= 0)
    at += (size_t)snprintf(buf + at, len - at, "%smodule %s%s%s", at ? "; " : "", module_name(p, n->owner),
                           n->owner_path && *n->owner_path ? ", " : "", n->owner_path ? n->owner_path : "");
}

int nonfinite_first_op(const IrProgram *p, int graph, const int64_t *symvals, const Tensor *inputs,
                       const ParamStore *ps, const char *forward, InterpCx *cx, char *msg, size_t msglen) {
  const IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n, maxin = 1, rc = -1;
  for (int i = 0; i < n; i++)
    if (g->nodes.v[i].nin > maxin) maxin = g->nodes.v[i].nin;
  Tensor *vals = calloc((size_t)n + 1, sizeof(Tensor));
  int *last = malloc(sizeof(int) * ((size_t)n + 1));
  const Tensor **ins = malloc(sizeof *ins * (size_t)maxin);
  if (!vals || !last || !ins) {
    snprintf(msg, msglen, "the op-by-op re-run is out of memory");
    goto done;
  }
  for (int i = 0; i < n; i++) last[i] = i;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < g->nodes.v[i].nin; j++)
      if (g->nodes.v[i].in[j] >= 0 && g->nodes.v[i].in[j] < i) last[g->nodes.v[i].in[j]] = i;
  int ninput = 0;
  char w[400], op[300], ctx[300];
  for (int i = 0; i < n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    const Tensor *src = NULL;
    if (nd->op == OP_INPUT) {
      src = &inputs[ninput++];
      ins[0] = src;
    } else if (nd->op == OP_PARAM) {
      src = rt_params_get(ps, nd->module, nd->param);
      if (!src) {
        snprintf(msg, msglen, "op-by-op re-run: parameter %s.%s is not in the parameter store",
                 module_name(p, nd->module), nd->name ? nd->name : "?");
        goto done;
      }
      ins[0] = src;
    } else {
      for (int j = 0; j < nd->nin; j++) ins[j] = &vals[nd->in[j]];
    }
    if (src) { /* a source that already holds a non-finite value: no op produced it here */
      int64_t k = nonfinite_find(src);
      if (k >= 0) {
        where(w, sizeof w, src, k);
        if (nd->op == OP_PARAM)
          snprintf(msg, msglen, "parameter %s.%s holds %s at %s (before this step: an earlier update or a loaded checkpoint)",
                   module_name(p, nd->module), nd->name, kind(rt_tensor_get(src, k)), w);
        else
          snprintf(msg, msglen, "input '%s' holds %s at %s", nd->name, kind(rt_tensor_get(src, k)), w);
        rc = 1;
        goto done;
      }
    }
    if (!interp_node(p, g, i, symvals, ins, &vals[i], cx)) {
      snprintf(msg, msglen, "the op-by-op re-run failed: %s", cx->err);
      goto done;
    }
    int64_t k = nonfinite_find(&vals[i]);
    if (k >= 0) {
      where(w, sizeof w, &vals[i], k);
      describe_op(op, sizeof op, g, i);
      describe_context(ctx, sizeof ctx, p, nd, forward ? forward[i] : -1);
      snprintf(msg, msglen, "%s produced %s at %s%s%s%s; its operands were finite", op,
               kind(rt_tensor_get(&vals[i], k)), w, *ctx ? " (" : "", ctx, *ctx ? ")" : "");
      rc = 1;
      goto done;
    }
    for (int j = 0; j < nd->nin; j++) /* operands read for the last time */
      if (nd->in[j] >= 0 && last[nd->in[j]] == i) rt_tensor_free(&vals[nd->in[j]]);
    if (last[i] == i) rt_tensor_free(&vals[i]); /* never read */
  }
  snprintf(msg, msglen, "the reference interpreter computes every value of this step finite (the fast kernels "
                        "round differently; MAMC_BACKEND=interp runs the interpreter's kernels)");
  rc = 0;
done:
  if (vals) interp_values_free(vals, n);
  free(vals);
  free(last);
  free(ins);
  return rc;
}
