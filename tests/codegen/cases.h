/* cases.h — the codegen test cases, shared by the JIT test (test_cg_jit.c), the CUDA text
 * test (test_cg_cuda.c) and the NVRTC test (test_cg_nvrtc.c).
 *
 * A case is a small program with one graph: INPUT nodes, then the group under test (every
 * other node), symbolic dims B, S, L with two to four bindings, and a value domain per
 * input. The families: every lowered op alone (f32, f64 and i32 where the interpreter
 * takes it, with broadcasting operands), reductions over several axis sets, softmax /
 * log_softmax / layernorm / rmsnorm over rows of length 1, 3, 17 and 1000, fused norm
 * groups (residual + layernorm, scale + mask + softmax, ...), slices, pads and concats read
 * through windows (constant and symbolic starts, nested, rotary's rotate-half), and seeded
 * random chains of 2-6 elementwise ops with broadcasting.
 */
#ifndef MAMC_TEST_CG_CASES_H
#define MAMC_TEST_CG_CASES_H

#include "codegen.h"

enum { CASE_MAX_NODES = 64, CASE_MAX_BIND = 4 };
typedef enum { DOM_ANY, DOM_POS, DOM_MASK, DOM_SMALL, DOM_NONZERO_INT } Domain;

typedef struct CgCase {
  char name[160];
  Arena arena;
  IrProgram p;
  IrGraph *g;
  int nodes[CASE_MAX_NODES], nn;   /* the group */
  int nbind;
  int64_t bind[CASE_MAX_BIND][4];  /* symbol values, p.syms order */
  Domain dom[CASE_MAX_NODES];      /* per INPUT node (by node index) */
  int single;                      /* one op alone (ulps vs the f32 interpreter are reported) */
  int training;                    /* dropout: the run's flag, seed and step */
  uint64_t seed;
  int64_t step;
  Op op;                           /* single: that op */
  int windows;                     /* slices, pads, concats: reads at other indices than the
                                    * stores, so never run in place (memplan.c refuses it) */
} CgCase;

typedef void (*CgCaseFn)(CgCase *c, void *ctx);

/* Build every case in turn, call fn, free it. seed: random chains and values. Returns the
 * number of cases. */
int cg_cases_each(uint64_t seed, CgCaseFn fn, void *ctx);

/* The seed: MAMC_TEST_SEED if set, else a fixed default (printed by the tests). */
uint64_t cg_cases_seed(void);

#endif
