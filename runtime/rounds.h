/* rounds.h — the arithmetic of DEPT's rounds (docs/dept.md), apart from any communication so the
 * oracles of the reference's test list can check it directly (tests/dept/test_rounds.c), a
 * source's TRIM vocabulary from its data, and the rounds a compiled graph carries.
 *
 * A round ends with every holder of a module holding the same combined parameters:
 *   xbar = sum_k w_k theta_k / sum_k w_k        (w_k: the tokens worker k trained it on in
 *                                                 the round; TRIM: per row, over the workers
 *                                                 whose vocabulary holds the row)
 * and the outer optimizer moves the anchor a (the parameters after the previous round):
 *   lr 1, momentum 0 (plain averaging, DEPT)   theta = a = xbar, exactly;
 *   otherwise (DiLoCo)                          delta = a - xbar;  m = mu m + delta;
 *                                               theta = a = a - lr (nesterov ? delta + mu m : m).
 * Whatever no worker trained (W = 0: a module nobody trained in the round, a row in no
 * worker's vocabulary) is set back to the anchor, bit for bit.
 *
 * Exactness: the dense path sums p_k theta_k in f32 with p_k = w_k / W, so one contributor
 * (p = 1) returns its parameters exactly; the row path accumulates w_k theta_k in f64, in the
 * given order (the runtime's: ascending rank), so one contributor and identical contributors
 * return theta exactly, and a fixed order gives the same bits whichever worker holds what.
 */
#ifndef MAMC_RUNTIME_ROUNDS_H
#define MAMC_RUNTIME_ROUNDS_H

#include <stdint.h>

#include "data/corpus.h"
#include "data/tokenizer.h"
#include "ir.h"

/* The outer step on n elements (see above): x the replica, a the anchor, m the momentum,
 * xbar the combined parameters. */
void dept_outer_apply(float *x, float *a, float *m, const float *xbar, int64_t n, double lr, double mu, int nesterov);

/* ---- TRIM rows: the masked mean ------------------------------------------------------------------
 * Accumulators over a table of V rows of `row` elements: S[V * row] (f64), W[V] (f64), zeroed.
 * A contribution: n rows (their global ids), a weight per row, and the n local rows. */
typedef struct DeptRows {
  int64_t n;
  const int32_t *ids;      /* global row ids */
  const double *w;         /* per row (NULL: weight 1 for all) */
  const float *values;     /* [n, row] */
} DeptRows;

void dept_rows_add(double *S, double *W, int64_t row, const DeptRows *c);
/* Rows with W > 0: the outer step on xbar = S / W; others: x = a. */
void dept_rows_finish(float *x, float *a, float *m, const double *S, const double *W, int64_t V, int64_t row,
                      double lr, double mu, int nesterov);

/* The whole masked mean of the reference's oracle: phi[V, row] (the anchor) and K workers'
 * contributions, in order, with plain averaging: out[i] = phi[i] + the weighted mean of the
 * deltas of the workers holding row i, out[i] = phi[i] (bit for bit) for rows none holds.
 * 1, or 0 when out of memory. */
int dept_masked_mean(const float *phi, int64_t V, int64_t row, const DeptRows *workers, int K, float *out);

/* ---- the sources of a round (Algorithm 1's S_r) --------------------------------------------------
 * in[0 .. n): 1 for the k of the n sources that train in round `round` (0-based: steps
 * [round * H, (round + 1) * H)), 0 for the others — a uniform k-subset (Floyd's algorithm on
 * counter-based random numbers), a pure function of (seed, round, n, k), so every rank draws
 * the same without communicating and a resumed run draws it again. k <= 0 or k >= n: all. */
void dept_round_sources(uint64_t seed, int64_t round, int n, int k, char *in);

/* ---- a source's vocabulary ---------------------------------------------------------------------------
 * The ascending global ids the corpus columns use under the tokenizer, with the four special
 * ids (pad, <s>, </s>, <unk>) always in: *rows (malloc'd) and *n. 0 with a message in err
 * (an id >= V, out of memory). */
int dept_vocab_rows(const Corpus *c, const int *cols, int ncols, Tokenizer *tok, int64_t V, int32_t **rows,
                    int64_t *n, char *err, size_t errlen);

/* ---- the rounds a rank's compiled graph carries ----------------------------------------------------
 * After the communication pass (passes/comm.h), a rank's training graph ends with one outer_sync
 * per trainable parameter of every module that rank holds and synchronises in rounds. These
 * are the rounds as the compiler placed them; the trainer's rounds must equal them (the
 * modules, holders, period, outer optimizer, and so the bytes; tests/dept/outer_ir_test.sh). */
typedef struct RoundSync {
  int module, param;       /* the parameter (IrProgram module table) */
  const char *group;       /* the holders' group, "ranks[0, 1]" */
  int every, nesterov, rows;
  double lr, momentum;
  int64_t numel;           /* its elements (f32: 4 bytes each in a round's dense payload) */
} RoundSync;

/* The outer_sync ops of graph g in order, the first max into out; returns how many there are. */
int rounds_from_graph(const IrProgram *p, const IrGraph *g, RoundSync *out, int max);

#endif
