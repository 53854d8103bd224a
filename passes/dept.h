/* dept.h — DEPT, decoupled embeddings for pre-training (docs/dept.md; the specification is
 * ../shared/reference/dijiang_dept.md §B): what a run's `dept.variant` means for the program,
 * the TRIM rewrite of the training graphs, and the paper's memory and payload arithmetic.
 *
 * The embedding tables of a program are the parameters some task graph reads as the table of
 * a `gather` (or of a `trim_gather`): the token embeddings, tied or not with the output
 * projection. The variants say what happens to them; the body is whatever `sync:` says:
 *   GLOB  one global table, shared by every source (not `local`): averaged each round like the
 *         body (plain FedAvg / local SGD over the whole model);
 *   TRIM  the same global table, but each source trains only the rows of the ids its data
 *         uses, its loss runs over those rows only, and a row is averaged only over the
 *         sources that hold it (the runtime's rounds, runtime/rounds.h);
 *   SPEC  each source's own table, `local`: never communicated; only the body is averaged.
 *
 * ---- The TRIM rewrite (pass_dept_trim) ---------------------------------------------------------
 * Before autodiff, on a training graph that reads a trimmed table (a table of a module that is
 * not `local`), every read of the table's parameter goes through
 *   %vocab_rows: i32[V_rows]                           (a new input, after the others)
 *   %t = trim_gather %table, %vocab_rows : f32[V_rows, d]
 * so the gather of the ids and the tied output projection both see the source's local table
 * and the loss runs over its V_rows classes; autodiff then makes the table's gradient an
 * untrim_scatter (zero on the rows the source does not use). The runtime feeds vocab_rows (the
 * ascending global ids of the task's vocabulary) and gives the graph local ids (the position
 * of each global id in vocab_rows). Every trimmed table of a graph must have the same number
 * of rows (one global vocabulary). Evaluation graphs are not rewritten: they score the global
 * vocabulary with the aggregated table.
 */
#ifndef MAMC_PASSES_DEPT_H
#define MAMC_PASSES_DEPT_H

#include "ir.h"

/* The order of frontend/config.h's CfgDeptVariant. */
typedef enum { DEPT_NONE, DEPT_GLOB, DEPT_TRIM, DEPT_SPEC } DeptVariant;

#define DEPT_ROWS_INPUT "vocab_rows"
#define DEPT_ROWS_SYMBOL "V_rows"

const char *dept_variant_name(DeptVariant v);

/* 1 if parameter q of module m is an embedding table (read as a gather table by some graph). */
int dept_is_table(const IrProgram *p, int m, int q);
/* 1 if parameter q of module m is a table the TRIM rewrite trims (a table, module not local). */
int dept_is_trimmed(const IrProgram *p, int m, int q);

/* The variant checked against the model (before the pipeline): every variant needs a table;
 * GLOB and TRIM a table that is not `local` and that every task reading a table reads (one
 * global vocabulary); SPEC tables that are `local`. Errors at `where` (the config's dept:). */
int dept_check(const IrProgram *p, DeptVariant v, SrcLoc where, Diag *d);

/* The TRIM rewrite above, on one graph; graphs that read no trimmed table (or were rewritten
 * already) are left as they are. 1 on success. */
int pass_dept_trim(IrProgram *p, int graph, Diag *d);

/* The graph's vocab_rows input node, or -1. */
int dept_rows_input(const IrGraph *g);

/* ---- the arithmetic of §B.4 (tests/dept: the paper's Table 2) ----------------------------------
 * Per worker, in parameters (multiply by the dtype size for bytes): the body theta, the global
 * vocabulary V, the worker's vocabulary Vk (TRIM: the rows its data uses; SPEC: its own), the
 * model width d, learned positions L (0 with ALiBi), N_local steps per round. */
typedef struct DeptCostIn {
  double body, V, Vk, d, L;
  double n_local;
} DeptCostIn;

typedef struct DeptCost {
  double emb;          /* embedding parameters a worker holds and trains */
  double model;        /* M_k: body + embedding (+ positions) */
  double round;        /* parameters a worker sends per round, each direction */
  double per_step;     /* round / N_local (STD: every step, all of M) */
} DeptCost;

/* STD (DEPT_NONE: synchronous data parallelism, one exchange per step), GLOB, TRIM, SPEC. */
DeptCost dept_cost(DeptVariant v, const DeptCostIn *in);

#endif
