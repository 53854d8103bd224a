/* pipeline.c — the pass table and its driver: runs the passes in order over every task graph
 * (instantiation and verification happened in the frontend), verifies between passes when
 * asked (MAMC_VERIFY=1 or PipelineOpts.verify), dumps the program after the passes whose
 * letters are listed; and pass_rebuild_graph, the one way passes drop, merge and reorder
 * nodes (it remaps operands and outputs and keeps used_by true).
 */
#include "pipeline.h"

#include <stdlib.h>

#include "autodiff.h"
#include "comm.h"
#include "decode.h"
#include "fusion.h"
#include "lower_attn.h"
#include "memplan.h"
#include "simplify.h"

/* ---- the pipeline, in order ---------------------------------------------------------------- */

static const Pass passes[] = {
    {"autodiff", 'A', pass_autodiff, "append the backward pass: grad.<module>.<param> outputs"},
    {"lower_attn", 'L', pass_lower_attn, "choose each linear attention's form: quadratic, chunked, recurrent"},
    {"simplify", 'S', pass_simplify, "fold constants, algebraic identities, CSE, dead code"},
    {"decode", 'D', pass_decode, "derive decoding programs: T.encode and the cached one-step T.step (decode.h)"},
    {"comm", 'C', pass_comm, "per rank: bucketed token-weighted gradient all-reduces, the norm (comm.h)"},
    {"fusion", 'F', pass_fusion, "group elementwise chains, row reductions, norms, GEMM epilogues"},
    {"memplan", 'M', pass_memplan, "plan buffer slots by liveness (checks the plan; see memplan.h)"},
};

const Pass *pass_table(int *count) {
  *count = COUNT_OF(passes);
  return passes;
}

const Pass *pass_find(const char *s) {
  if (!s) return NULL;
  for (int i = 0; i < COUNT_OF(passes); i++)
    if (strcmp(passes[i].name, s) == 0 || (s[0] == passes[i].letter && s[1] == 0)) return &passes[i];
  return NULL;
}

/* ---- driver --------------------------------------------------------------------------------- */

static int env_verify(void) {
  const char *v = getenv("MAMC_VERIFY");
  return v && *v && strcmp(v, "0") != 0;
}

static int run_one(IrProgram *p, const Pass *pass, int verify, Diag *d) {
  for (int g = 0; g < p->graphs.n; g++) {
    int before = d->nerrors;
    if (!pass->fn(p, g, d) || d->nerrors > before) {
      if (d->nerrors == before) diag_plain(d, "pass %s failed on task @%s", pass->name, ir_graph_name(p, &p->graphs.v[g]));
      return 0;
    }
  }
  if (verify && !ir_verify(p, d)) {
    diag_plain(d, "internal error: the program does not verify after pass %s", pass->name);
    return 0;
  }
  return 1;
}

int pass_run_one(IrProgram *p, const Pass *pass, int verify, Diag *d) {
  /* Allocation failure in a pass unwinds to here (passes holding heap memory free it in their
   * own handler first), unless the caller has a handler. */
  jmp_buf oom, *saved = p->arena->oom;
  if (!saved) {
    if (setjmp(oom)) {
      p->arena->oom = NULL;
      diag_plain(d, "out of memory in pass %s", pass->name);
      return 0;
    }
    p->arena->oom = &oom;
  }
  int ok = run_one(p, pass, verify, d);
  p->arena->oom = saved;
  return ok;
}

int pass_run(IrProgram *p, const PipelineOpts *o, Diag *d) {
  const Pass *last = NULL;
  for (const char *c = o->only; c && *c; c++) {
    char name[2] = {*c, 0};
    if (!pass_find(name)) {
      diag_plain(d, "unknown pass letter '%c' (see mamc passes)", *c);
      return 0;
    }
  }
  if (o->until) {
    last = pass_find(o->until);
    if (!last) {
      diag_plain(d, "unknown pass '%s' (see mamc passes)", o->until);
      return 0;
    }
  }
  int verify = o->verify || env_verify();
  for (int i = 0; i < COUNT_OF(passes); i++) {
    /* decode runs only when asked for: listed in `only`, or named as `until` */
    int skip = passes[i].fn == pass_decode && !(o->only && strchr(o->only, 'D')) && &passes[i] != last;
    if (skip || (o->only && !strchr(o->only, passes[i].letter))) {
      if (&passes[i] == last) break;
      continue;
    }
    if (!pass_run_one(p, &passes[i], verify, d)) return 0;
    if (o->dump && o->dump_to && strchr(o->dump, passes[i].letter)) {
      sb_printf(o->dump_to, "# ---- after %s (%c)\n", passes[i].name, passes[i].letter);
      ir_print_program(o->dump_to, p);
    }
    if (&passes[i] == last) break;
  }
  return 1;
}

int pass_run_pipeline(IrProgram *p, const char *until, Diag *d) {
  PipelineOpts o = {until, NULL, 0, NULL, NULL};
  return pass_run(p, &o, d);
}

/* ---- rebuilding ------------------------------------------------------------------------------ */

void pass_update_used_by(IrProgram *p, int graph) {
  const IrGraph *g = &p->graphs.v[graph];
  for (int m = 0; m < p->modules.n; m++) {
    IrModule *mod = &p->modules.v[m];
    int reads = 0, at = -1;
    for (int i = 0; i < g->nodes.n && !reads; i++) reads = g->nodes.v[i].op == OP_PARAM && g->nodes.v[i].module == m;
    for (int i = 0; i < mod->used_by.n; i++)
      if (mod->used_by.v[i] == graph) at = i;
    if (reads && at < 0) {
      int pos = 0;
      while (pos < mod->used_by.n && mod->used_by.v[pos] < graph) pos++;
      vec_push(p->arena, mod->used_by, 0);
      memmove(&mod->used_by.v[pos + 1], &mod->used_by.v[pos], sizeof(int) * (size_t)(mod->used_by.n - 1 - pos));
      mod->used_by.v[pos] = graph;
    } else if (!reads && at >= 0) {
      memmove(&mod->used_by.v[at], &mod->used_by.v[at + 1], sizeof(int) * (size_t)(mod->used_by.n - 1 - at));
      mod->used_by.n--;
    }
  }
}

static int rebuild(IrProgram *p, int graph, const char *keep, const int *rep, const int *order, int *newid, Diag *d) {
  IrGraph *g = &p->graphs.v[graph];
  int n = g->nodes.n, kept = 0;
  for (int i = 0; i < n; i++) newid[i] = -1;
  for (int i = 0; i < n; i++) kept += keep[i] != 0;
  IrNode *nodes = ARENA_ARRAY(p->arena, IrNode, kept > 0 ? kept : 1);
  for (int k = 0, i = 0; k < kept; k++, i++) {
    if (order) {
      i = order[k];
      if (i < 0 || i >= n || !keep[i] || newid[i] >= 0) die("pass_rebuild_graph: bad order");
    } else {
      while (!keep[i]) i++;
    }
    newid[i] = k;
    nodes[k] = g->nodes.v[i];
  }
  int ok = 1;
  for (int k = 0; k < kept && ok; k++) {
    IrNode *x = &nodes[k];
    int *in = ARENA_ARRAY(p->arena, int, x->nin > 0 ? x->nin : 1);
    for (int j = 0; j < x->nin; j++) {
      int r = rep ? rep[x->in[j]] : x->in[j];
      in[j] = r >= 0 && r < n ? newid[r] : -1;
      if (in[j] < 0 || in[j] >= k) ok = 0;
    }
    x->in = in;
  }
  for (int o = 0; o < g->outputs.n && ok; o++) {
    int r = rep ? rep[g->outputs.v[o].node] : g->outputs.v[o].node;
    ok = r >= 0 && r < n && newid[r] >= 0;
  }
  for (int o = 0; o < g->outputs.n && ok; o++)
    g->outputs.v[o].node = newid[rep ? rep[g->outputs.v[o].node] : g->outputs.v[o].node];
  if (!ok) {
    diag_plain(d, "internal error: rebuilding task @%s left a reference to a dropped or later node",
               ir_graph_name(p, g));
    return 0;
  }
  g->nodes.v = nodes;
  g->nodes.n = g->nodes.cap = kept;
  pass_update_used_by(p, graph);
  return 1;
}

int pass_rebuild_graph(IrProgram *p, int graph, const char *keep, const int *rep, const int *order, Diag *d) {
  int n = p->graphs.v[graph].nodes.n;
  int *newid = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  if (!newid) {
    diag_plain(d, "out of memory");
    return 0;
  }
  /* allocation failure is reported here, not passed on: callers hold scratch memory too */
  jmp_buf oom, *saved = p->arena->oom;
  if (setjmp(oom)) {
    p->arena->oom = saved;
    free(newid);
    diag_plain(d, "out of memory");
    return 0;
  }
  p->arena->oom = &oom;
  int ok = rebuild(p, graph, keep, rep, order, newid, d);
  p->arena->oom = saved;
  free(newid);
  return ok;
}
