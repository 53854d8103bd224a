/* fusion.h — the fusion pass (passes/fusion.c) and the description of its groups for the
 * code generators.
 *
 * After pass_fusion every node that can run inside a kernel — elementwise ops, reductions
 * over the last axis, softmax / log_softmax over the last axis, layernorm, rmsnorm — is in
 * a group (IrNode.group >= 0), possibly alone; a const or iota is in the group of its only
 * reader when it has one (filled in the loop, never written out); a matmul is in a group only
 * as the root of a GEMM epilogue. Everything else has group -1 and runs through the
 * runtime's library kernels (BLAS, gather, attention, ...) or as a view (reshape). The
 * rules a group follows (member roles, kinds, the anchor, outputs, contiguity) are written
 * in ir/group.h and checked by ir_verify.
 *
 * ---- for code generators -----------------------------------------------------------------
 *   FusionGroups fg;
 *   if (!fusion_group_info(p, graph, arena, &fg, err, sizeof err)) ... (the groups break a rule)
 *   for (int k = 0; k < fg.n; k++) {
 *     const FusionGroup *G = &fg.v[k];
 *     G->kind          FK_ELEMENTWISE | FK_ROW_REDUCE | FK_NORM | FK_EPILOGUE
 *     G->first, count  the members: nodes first .. first+count-1, in evaluation order; the
 *                      group runs as one step at that position of the node order
 *     G->root          the reduction / norm (the group's last member and only output) or the
 *                      epilogue's matmul (whose product only members read); -1 otherwise
 *     G->anchor        the iteration space: for elementwise and epilogue groups every output
 *                      has exactly these dims; for row reductions and norms the rows are
 *                      anchor[0 .. rank-2] and the reduced row anchor[rank-1]. A member's
 *                      index into its own shape follows by NumPy broadcasting.
 *     G->inputs[]      nodes read from outside (inputs, params, other groups' outputs, ...),
 *                      in the order members first read them
 *     G->outputs[]     members read outside the group or returned by the graph: each needs
 *                      a buffer (memplan.h assigns one); the other members stay in registers
 *   }
 * These agree with codegen.h's shapes (elementwise: all outputs one shape; row: one reduced
 * axis set, the root the only output), so the members can be handed to cg_lower as they are
 * — for an epilogue group all members but the root: the runtime runs the root with BLAS
 * (cuBLASLt with the epilogue fused, on the GPU, when the members are a bias add and relu /
 * gelu) and the kernel then reads the product as an input.
 */
#ifndef MAMC_FUSION_H
#define MAMC_FUSION_H

#include "group.h"

/* Assigns fusion groups in graph `graph` (replacing any it had), reorders nodes so that each
 * group is contiguous (the order stays topological; inputs stay first), and numbers the
 * groups 0, 1, ... in node order. 1; 0 with an internal error in d. */
int pass_fusion(IrProgram *p, int graph, Diag *d);

/* The groups of a graph as code generators see them (see above); = ir_fusion_groups. */
int fusion_group_info(const IrProgram *p, int graph, Arena *a, FusionGroups *out, char *err, size_t errlen);

#endif
