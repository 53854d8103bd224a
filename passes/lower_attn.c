/* lower_attn.c — chooses the form each linear attention runs in: the attribute `lower` of
 * linear_attention, linear_attention_state and linear_attention_grad (ir/linattn.h).
 *
 *   quadratic  every query against every key, O(S^2 m): the reference form (the fast kernels
 *              run it as one chunk). Chosen when both lengths are constants <= 64, where it
 *              is the chunked form with a single chunk.
 *   recurrent  one position at a time, O(S m Dv) with a tiny working set: chosen when the
 *              query length is the constant 1 (a decoding step from a carried state) or the
 *              key length is (the state after one token).
 *   chunked    chunks of `chunk` positions (default 64): an inter-chunk state product plus an
 *              intra-chunk masked product, both matrix products (runtime/fast/, forward and
 *              backward kernels). Everything else, in particular symbolic lengths.
 *
 * Nodes whose lower is already set (not auto) are left alone. The environment variable
 * MAMC_LINATTN=quadratic|chunked|recurrent forces that form on every auto node (tests and
 * benchmarks compare the forms on one program). The kernels honour the attribute; where a
 * backend lacks a form it runs the nearest one it has (runtime/interp/linattn.c: chunked runs
 * as recurrent; runtime/fast/: quadratic is one chunk of every position, up to 2048, beyond
 * which the interpreter runs it).
 */
#include "lower_attn.h"

#include <stdlib.h>

#include "linattn.h"

enum { QUADRATIC_MAX = 64 };

static int is_attn(Op op) {
  return op == OP_LINEAR_ATTENTION || op == OP_LINEAR_ATTENTION_STATE || op == OP_LINEAR_ATTENTION_GRAD;
}

int lower_attn_choose(const IrProgram *p, const IrGraph *g, int node) {
  const IrNode *n = &g->nodes.v[node];
  LinAttn la;
  char err[256];
  (void)p;
  if (!ir_linattn_read(n, &la, err, sizeof err)) return LA_LOWER_CHUNKED;
  Dim sk = g->nodes.v[n->in[la.k]].type.d[2], sq = la.q >= 0 ? g->nodes.v[n->in[la.q]].type.d[2] : sk;
  if ((n->op != OP_LINEAR_ATTENTION_STATE && dim_eq(sq, dim_const(1))) || dim_eq(sk, dim_const(1)))
    return LA_LOWER_RECURRENT;
  if (dim_is_const(sq) && dim_is_const(sk) && sq.add <= QUADRATIC_MAX && sk.add <= QUADRATIC_MAX)
    return LA_LOWER_QUADRATIC;
  return LA_LOWER_CHUNKED;
}

int pass_lower_attn(IrProgram *p, int graph, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  const char *env = getenv("MAMC_LINATTN");
  int forced = -1;
  if (env && *env) {
    static const char *const words[] = {"quadratic", "chunked", "recurrent"};
    static const int forms[] = {LA_LOWER_QUADRATIC, LA_LOWER_CHUNKED, LA_LOWER_RECURRENT};
    for (int i = 0; i < 3; i++)
      if (strcmp(env, words[i]) == 0) forced = forms[i];
    if (forced < 0) {
      diag_plain(d, "MAMC_LINATTN must be quadratic, chunked or recurrent, got '%s'", env);
      return 0;
    }
  }
  for (int i = 0; i < g->nodes.n; i++) {
    IrNode *n = &g->nodes.v[i];
    if (!is_attn(n->op) || ir_get_i(n, "lower") != LA_LOWER_AUTO) continue;
    static const char *const word[] = {"auto", "quadratic", "chunked", "recurrent"};
    ir_set_enum(n, "lower", word[forced >= 0 ? forced : lower_attn_choose(p, g, i)]);
  }
  return 1;
}
