/* simplify.h — constant folding, algebraic identities, common subexpressions and dead code
 * (passes/simplify.c). */
#ifndef MAMC_SIMPLIFY_H
#define MAMC_SIMPLIFY_H

#include "ir.h"

/* Simplifies graph `graph` in place (see the top of simplify.c for the rewrites). Fusion
 * groups are dropped when the graph changes (run fusion afterwards). 1; 0 on internal error. */
int pass_simplify(IrProgram *p, int graph, Diag *d);

#endif
