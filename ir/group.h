/* group.h — fusion groups: the rules a set of nodes must follow to run as one kernel, and
 * the description of each group that code generators consume. passes/fusion.c assigns
 * groups (IrNode.group); ir/verify.c checks these rules; codegen/ and runtime/ read them
 * through ir_fusion_groups (passes/fusion.h re-exports it as fusion_group_info).
 *
 * A fusion group is the set of nodes of one graph with the same IrNode.group >= 0 (-1: in
 * no group). Text form: the id follows the node's type, `%7 = add %5, %6 : f32[B, S, 8] group 3`.
 *
 * ---- member roles ------------------------------------------------------------------------
 *   EW        an F_EW op: unary and binary math with NumPy broadcasting, cast, comparisons,
 *             where, dropout; and the computed sources const and iota (filled in the loop)
 *   REDUCE    reduce_sum / reduce_mean / reduce_max over exactly the last axis (keepdim any)
 *   NORM      softmax / log_softmax over the last axis, layernorm, rmsnorm and their _grad ops
 *   MATMUL    matmul (the GEMM of an epilogue group)
 *   MOVE      slice and pad with step 1, concat of at most 8 operands, transpose: in
 *             ELEMENTWISE groups, and in ROW_REDUCE and NORM groups' prologues (below the
 *             root's row input), where the kernel reads their operands through windows (an
 *             offset along the axis; a concat selects its operand by the index, a pad its
 *             zeros, and loads outside an operand's range read nothing) or permuted strides
 * Everything else is never a member: inputs and params, reshape (a view: the runtime
 * reinterprets its operand's buffer, memplan.h plans it so), gather, expand,
 * groupnorm, cross_entropy, attention, collectives, reductions over other axes.
 *
 * ---- kinds and the anchor ------------------------------------------------------------------
 * A group holds at most one REDUCE, NORM or MATMUL member, its ROOT, which gives the kind — but
 * for SIBLING norms: other NORM members with the root's first operand (the same rows, e.g.
 * layernorm_grad(x, ..) and layernorm(x)), under the root's rules:
 *   ELEMENTWISE  no root. Anchor: the broadcast of the shapes of its members; with MOVE
 *                members, of its sinks (members no member reads), and every member's dims
 *                must fit the anchor through the windows of the moves above it (a member
 *                below a slice has the slice's operand's extent along its axis).
 *   ROW_REDUCE   root a REDUCE; NORM  root a NORM. Anchor: the shape of the root's first
 *                operand (the rows being reduced, the last axis the row); the members it
 *                depends on are its elementwise prologue. A ROW_REDUCE's root is its last
 *                member and only output. A NORM's other members are any EW ops over the
 *                anchor — its prologue, ops reading the root (an epilogue: e.g. a gradient's
 *                accumulation onto another path's), ops beside it — all computed in the
 *                row's element pass (the prologue in the passes too), and any of them may be
 *                an output. A norm's other operands (gain, bias; a _grad's upstream
 *                gradient) come from outside the group.
 *   EPILOGUE     root a MATMUL, whose operands come from outside and whose every consumer
 *                is a member (the raw product is never written out: on the GPU the group is
 *                one cuBLASLt call with an epilogue, on the CPU a BLAS call and a kernel).
 *                Anchor: the matmul's shape.
 * The anchor is the group's iteration space. Every EW member's shape broadcasts into it
 * (equal, or 1 / missing leading dims where the anchor is larger).
 *
 * ---- outputs ---------------------------------------------------------------------------------
 * A member is an OUTPUT when a node outside the group reads it or the graph returns it.
 * ELEMENTWISE, EPILOGUE and NORM groups may have several outputs; each has exactly the
 * anchor's dims. A ROW_REDUCE group's only output is its root.
 *
 * ---- structure ---------------------------------------------------------------------------------
 *   contiguous   the members are consecutive nodes (so the group is convex: no path leaves
 *                it and comes back, and it runs as one step at its position in node order);
 *   connected    through operand edges between members;
 *   useful       at least one member that computes from operands: an EW op other than
 *                const / iota, a REDUCE or a NORM.
 *
 * Contract for kernels: an elementwise loop over the anchor loads every operand element it
 * needs for an index before storing any output element of that index (memory planning may
 * let an output share the buffer of an operand of the same type that dies at the group).
 */
#ifndef MAMC_GROUP_H
#define MAMC_GROUP_H

#include "ir.h"

typedef enum { FK_ELEMENTWISE, FK_ROW_REDUCE, FK_NORM, FK_EPILOGUE } FusionKind;
typedef enum { FR_NONE, FR_EW, FR_REDUCE, FR_NORM, FR_MATMUL, FR_MOVE } FusionRole;

const char *fusion_kind_name(FusionKind k); /* "elementwise", "row-reduction", "norm", "epilogue" */

/* The role node `id` could take in a group (FR_NONE: never a member). */
FusionRole ir_fusion_role(const IrGraph *g, int id);
/* Nodes a and b are sibling norms: both NORM members over the same first operand (the same
 * rows), which may share a group (one pass over the rows). */
int ir_sibling_norms(const IrGraph *g, int a, int b);

/* One group, as code generators see it. All node indices are into the graph's nodes. */
typedef struct FusionGroup {
  int id;          /* the IrNode.group of the members */
  FusionKind kind;
  int first, count; /* members: nodes first .. first+count-1, in node (= evaluation) order */
  int root;        /* ROW_REDUCE / NORM: the reduction or norm; EPILOGUE: the matmul; else -1 */
  IrType anchor;   /* the iteration space (dims; dt: the dtype of the first output) */
  int ninputs;     /* external operands: nodes outside the group read by members, in the */
  int *inputs;     /*   order members first read them, each once */
  int noutputs;    /* outputs (read outside the group or returned), in node order */
  int *outputs;
} FusionGroup;

typedef struct FusionGroups {
  int n;
  FusionGroup *v;  /* in node order (so ids are ascending when fusion numbered them) */
} FusionGroups;

/* Describes every group of graph `graph` (arrays in arena a). Returns 1; 0 with a message
 * in err when the groups break a rule above (ir_verify reports the same). */
int ir_fusion_groups(const IrProgram *p, int graph, Arena *a, FusionGroups *out, char *err, size_t errlen);

/* ---- checking candidate sets (ir/verify.c, passes/fusion.c) -------------------------------
 * An IrGroupCx holds a graph's consumer lists and scratch space; it reads the graph as it is
 * when made (rebuild it after changing the graph). */
typedef struct IrGroupCx IrGroupCx;
IrGroupCx *ir_group_cx_new(const IrProgram *p, int graph); /* NULL when out of memory */
void ir_group_cx_free(IrGroupCx *cx);
int ir_group_cx_nusers(const IrGroupCx *cx, int node);       /* consumers of node */
const int *ir_group_cx_users(const IrGroupCx *cx, int node); /* ascending, repeats kept */
int ir_group_cx_returned(const IrGroupCx *cx, int node);     /* a graph output? */

enum {
  /* Every rule above. */
  GROUP_FINAL = 0,
  /* For growing groups node by node: contiguity is not checked (the caller keeps groups
   * acyclic and orders them at the end), and the rules that later consumers can still
   * satisfy are left out (the matmul not being an output, usefulness). */
  GROUP_TENTATIVE = 1,
};

/* Does the set `members` (node indices, ascending, n >= 1) form a valid group? Returns 1 and
 * fills *info (when not NULL) with id -1, kind, first, count, root and anchor (no inputs or
 * outputs); else 0 with the reason in err, naming nodes by their printed numbers. */
int ir_group_check(IrGroupCx *cx, const int *members, int n, int mode, FusionGroup *info, char *err,
                   size_t errlen);

#endif
