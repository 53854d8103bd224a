/* lower_attn.h — the pass that chooses how each linear attention runs (passes/lower_attn.c). */
#ifndef MAMC_LOWER_ATTN_H
#define MAMC_LOWER_ATTN_H

#include "ir.h"

/* Sets `lower` on every linear_attention, linear_attention_state and linear_attention_grad
 * node of the graph whose lower is auto (see the top of lower_attn.c). 1; 0 on a bad
 * MAMC_LINATTN value. */
int pass_lower_attn(IrProgram *p, int graph, Diag *d);

/* The choice for one node (exposed for tests): an LA_LOWER_* value of ir/linattn.h. */
int lower_attn_choose(const IrProgram *p, const IrGraph *g, int node);

#endif
