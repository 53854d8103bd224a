/* pipeline.h — the pass pipeline: one table of passes {name, letter, fn}, run in order over
 * every task graph, with the verifier between passes on request; and the graph-rebuilding
 * helper the passes share.
 *
 *   instantiate + verify (the frontend)  ->  autodiff (A)  ->  lower_attn (L)  ->  simplify (S)
 *   ->  [decode (D)]  ->  comm (C)  ->  fusion (F)  ->  memplan (M)
 *
 * decode runs only when asked for (`only` lists D, or `until` names it): it appends an encoder
 * and a one-step decoder graph per task graph (passes/decode.h). The translator runs "D" on
 * the forward graphs, then "LSF" over all of them.
 *
 * Each pass transforms one graph: int pass_X(IrProgram *p, int graph, Diag *d), 1 on success,
 * 0 with errors in d. A pass leaves the program verifying (ir_verify). `mamc ir --after NAME`
 * prints the program after a pass; `mamc passes` lists the table.
 */
#ifndef MAMC_PIPELINE_H
#define MAMC_PIPELINE_H

#include "ir.h"

typedef int (*PassFn)(IrProgram *p, int graph, Diag *d);

typedef struct Pass {
  const char *name;    /* "simplify" */
  char letter;         /* 'S': for -d / MAMC_DUMP */
  PassFn fn;
  const char *summary; /* one line, for `mamc passes` */
} Pass;

/* The passes in pipeline order. */
const Pass *pass_table(int *count);
/* By name or single letter (case-sensitive); NULL if none. */
const Pass *pass_find(const char *name_or_letter);

typedef struct PipelineOpts {
  const char *until;  /* the last pass to run (name or letter); NULL: all */
  const char *only;   /* letters: run only these passes (still in pipeline order); NULL: all.
                       * E.g. "SFM" for a graph without a loss, or one autodiff already ran on */
  int verify;         /* ir_verify after every pass (also when MAMC_VERIFY=1 is set) */
  const char *dump;   /* letters: print the program to `dump_to` after those passes */
  StrBuf *dump_to;
} PipelineOpts;

/* Runs the passes in order over every graph. 1 on success; 0 with errors in d (an unknown
 * `until`, a failing pass, or a program that no longer verifies, naming the pass). */
int pass_run(IrProgram *p, const PipelineOpts *o, Diag *d);
/* pass_run with only `until` (NULL: the whole pipeline); verifies when MAMC_VERIFY=1. */
int pass_run_pipeline(IrProgram *p, const char *until, Diag *d);
/* Runs one pass over every graph (then ir_verify when `verify`). */
int pass_run_one(IrProgram *p, const Pass *pass, int verify, Diag *d);

/* ---- rebuilding a graph (simplify, DCE, fusion) -------------------------------------------
 * Rewrites graph `graph` to keep only the nodes with keep[i] set, in the order `order` gives
 * (NULL: index order; else order[k] is the old index of the k-th node, listing exactly the
 * kept nodes, inputs first), and redirects every reference: an operand or output naming
 * node i names rep[i] instead (rep NULL: itself; rep[i] must be kept). Nodes keep their
 * attributes, loc, owner, owner_path and group. The used_by lists of the modules are
 * brought up to date for this graph. The caller guarantees the result is topological.
 * Returns 1; 0 (with an internal error in d) when a reference lands on a dropped node. */
int pass_rebuild_graph(IrProgram *p, int graph, const char *keep, const int *rep, const int *order, Diag *d);

/* Recomputes which graphs read each module's parameters, for graph `graph` only. */
void pass_update_used_by(IrProgram *p, int graph);

#endif
