/* memplan.h — the memory plan of one task graph (passes/memplan.c): which buffer ("slot")
 * each value is written into, so that values whose lifetimes do not overlap share memory.
 *
 * Steps: the graph runs in node order, a fusion group (contiguous, ir/group.h) as one step
 * and every other node as one. A value is written at its step and must survive until the
 * last step reading it; graph outputs survive to the end.
 * Planned values: every node but inputs and parameters (owned by the caller and the
 * ParamStore), the members of a fusion group that are not its outputs (they live in
 * registers: MP_FUSED) — except an epilogue's matmul, which gets a buffer for its step (the
 * CPU runs BLAS into it, then the kernel reads it; a fused cuBLASLt call may leave it
 * unused) — and reshapes: a reshape is a VIEW, the same buffer as its operand
 * read with another shape (MemPlan.view; its slot is its operand's, MP_EXTERNAL for a view of
 * an input or a parameter), so the runtime copies nothing, and the buffer lives until the last
 * reader of the value or of any view of it.
 * Slots: greedy in step order; a value takes a free slot of the same size class (its byte
 * size's symbolic part: B*(T-1) for f32[B, T-1, 128]), preferring one of exactly its size;
 * else a new slot. Sizes are symbolic: a slot lists the (element count, dtype) of the values
 * it holds, and the runtime sizes it as the largest once the symbols are bound.
 * In place: a value may take over the slot of an operand that dies at its step when that
 * is safe — an elementwise op (not in a group) or an elementwise group's output over an
 * operand of exactly its type, read at this step only at the same index (by elementwise
 * ops, not through a view). Never over a value read later (itself or through a view) or
 * returned by the graph.
 *
 * Dump (golden tests, `mamc ir --after memplan`):
 *   memplan @lm(en): 9 steps, 3 slots
 *     slot %2 -> s0
 *     slot %3 -> s0 (in place of %2)
 *     slot %4 -> s0 (view of %3)
 *     slot %5 fused (group 1)
 *     s0: 8*B f32
 *     arena: 32*B bytes; without reuse: 96*B + 64 bytes
 */
#ifndef MAMC_MEMPLAN_H
#define MAMC_MEMPLAN_H

#include "ir.h"

/* An element count: c * f[0] * ... * f[nf-1], each factor a dim mul*sym + add with mul > 0
 * and gcd(mul, add) = 1, sorted (so equal counts compare equal: [B, 2*T+2] = 2*B*(T+1)). */
typedef struct SizeExpr {
  int64_t c;
  int nf;
  Dim f[IR_MAX_RANK];
} SizeExpr;

SizeExpr size_numel(const IrType *t);
int size_eq(const SizeExpr *a, const SizeExpr *b);
int size_same_class(const SizeExpr *a, const SizeExpr *b); /* equal but for c */
int64_t size_eval(const SizeExpr *e, const int64_t *symvals);
void size_print(StrBuf *b, const IrProgram *p, const SizeExpr *e); /* 128*B*(T-1) */

typedef struct SlotSize {
  SizeExpr numel;
  DType dt;
} SlotSize;

typedef struct MemSlot {
  int nsizes;       /* the distinct (element count, dtype) of the values it holds */
  SlotSize *sizes;
} MemSlot;

enum { MP_EXTERNAL = -1, MP_FUSED = -2 };

typedef struct MemPlan {
  int graph, nnodes, nsteps, nslots;
  int *slot;      /* per node: slot >= 0, MP_EXTERNAL (input, param), MP_FUSED (group interior) */
  int *inplace;   /* per node: the operand whose slot it took over at its step, or -1 */
  int *view;      /* per node: a reshape's operand, whose buffer it is; else -1 */
  int *step;      /* per node: its step */
  int *last_use;  /* per node: the last step reading it (nsteps for graph outputs) */
  MemSlot *slots;
} MemPlan;

/* Plans graph `graph` (fusion groups as they are; none is fine). Arrays in arena a.
 * 1; 0 with an error in d (groups that break ir/group.h). */
int memplan_build(const IrProgram *p, int graph, Arena *a, MemPlan *out, Diag *d);
/* Checks a plan independently of how it was made: every planned value has a slot, values
 * sharing a slot never live at the same time (but for an in-place hand-over at one step),
 * in-place pairs are legal. 1; 0 with the first problem in err. */
int memplan_check(const IrProgram *p, const MemPlan *mp, char *err, size_t errlen);
/* The bytes slot s needs under a binding of the symbols; elsize[dt] bytes per element
 * (NULL: dtype_size). */
int64_t memplan_slot_bytes(const MemPlan *mp, int s, const int64_t *symvals, const int *elsize);
void memplan_dump(StrBuf *b, const IrProgram *p, const MemPlan *mp);

/* The pipeline's step: builds and checks the plan of every graph (the runtime makes its own
 * with memplan_build when it compiles a graph). */
int pass_memplan(IrProgram *p, int graph, Diag *d);

#endif
