/* graph.c — interp_graph: runs a whole task graph node by node in topological order.
 * INPUT nodes take the caller's tensors in order, PARAM nodes read the ParamStore, every
 * other node runs interp_node on its operands' values. Every value is kept (the oracle
 * exposes all intermediates to tests); on error all of them are freed.
 */
#include <stdlib.h>

#include "kernels.h"

void interp_values_free(Tensor *values, int n) {
  if (!values) return;
  for (int i = 0; i < n; i++) rt_tensor_free(&values[i]);
}

/* "translate(en, fr)" into buf */
static void graph_name(char *buf, size_t len, const IrGraph *g) {
  size_t at = (size_t)snprintf(buf, len, "%s(", g->task ? g->task : "?");
  for (int i = 0; i < g->nargs && at < len; i++) at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", g->args[i]);
  if (at < len) snprintf(buf + at, len - at, ")");
}

int interp_graph(const IrProgram *p, const IrGraph *g, const int64_t *symvals, const Tensor *inputs,
                 const ParamStore *ps, Tensor *values, InterpCx *cx) {
  if (!cx) return 0;
  cx->err[0] = 0;
  if (!p || !g || !values) {
    snprintf(cx->err, sizeof cx->err, "interp_graph: missing program, graph or values");
    return 0;
  }
  memset(values, 0, sizeof *values * (size_t)g->nodes.n);
  const Tensor **ins = NULL;
  int maxin = 1, ninput = 0;
  for (int i = 0; i < g->nodes.n; i++)
    if (g->nodes.v[i].nin > maxin) maxin = g->nodes.v[i].nin;
  ins = malloc(sizeof *ins * (size_t)maxin);
  if (!ins) {
    snprintf(cx->err, sizeof cx->err, "interp_graph: out of memory");
    return 0;
  }
  for (int i = 0; i < g->nodes.n; i++) {
    const IrNode *n = &g->nodes.v[i];
    if (n->op == OP_INPUT) {
      if (!inputs) {
        snprintf(cx->err, sizeof cx->err, "interp_graph: input '%s' has no value (no inputs given)", n->name);
        goto fail;
      }
      ins[0] = &inputs[ninput++];
    } else if (n->op == OP_PARAM) {
      ins[0] = rt_params_get(ps, n->module, n->param);
      if (!ins[0]) {
        snprintf(cx->err, sizeof cx->err, "%%%d = param @%s.%s: not in the parameter store", i,
                 n->module >= 0 && n->module < p->modules.n ? p->modules.v[n->module].name : "?",
                 n->name ? n->name : "?");
        goto fail;
      }
    } else {
      for (int j = 0; j < n->nin; j++) {
        if (n->in[j] < 0 || n->in[j] >= i) {
          snprintf(cx->err, sizeof cx->err, "%%%d: operand %d is not defined before use", i, j);
          goto fail;
        }
        ins[j] = &values[n->in[j]];
      }
    }
    if (!interp_node(p, g, i, symvals, ins, &values[i], cx)) goto fail;
  }
  free(ins);
  return 1;
fail:;
  char name[128];
  graph_name(name, sizeof name - 2, g);
  strcat(name, ": ");
  kprefix(cx->err, sizeof cx->err, name);
  free(ins);
  interp_values_free(values, g->nodes.n);
  return 0;
}
