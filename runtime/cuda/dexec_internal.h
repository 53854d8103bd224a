/* dexec_internal.h — what dexec.c (planning), dexec_run.c (the run loop, value lifetimes),
 * dexec_ops.c, dexec_copy.c, dexec_attn.c, dexec_attn_io.c, dexec_place.c and dexec_linattn.c
 * (each node kind on the device, and where values live) share. Not a public header. */
#ifndef MAMC_DEXEC_INTERNAL_H
#define MAMC_DEXEC_INTERNAL_H

#include "dexec.h"
#include "kernels/kargs.h"

/* The node's evaluated shape into shape[] (IR_MAX_RANK); returns its rank. */
int dx_shape(const DExec *e, int node, const int64_t *sym, int64_t *shape);
int64_t dx_numel(const DExec *e, int node, const int64_t *sym);
/* A fresh device buffer for node's value (its type's size), owned by the node. */
int dx_alloc(DExec *e, int node, const int64_t *sym);
/* Drops node j's reference to its buffer (views share their base's), freeing it with the last. */
void dx_release(DExec *e, int j);
/* Formats an error into e->err, prefixed by the node ("%12 = matmul: ..."); returns 0. */
int dx_fail(DExec *e, int node, const char *fmt, ...) MAMC_PRINTF(3, 4);
/* The device library's last error (dev->L.err) under the node's name; returns 0. */
int dx_dev_fail(DExec *e, int node);
/* profiling (dexec_prof.c): an event before (after = 0) or after step `first`; after a run,
 * the times read and added up; freeing */
int dx_prof_mark(DExec *e, int first, int after);
int dx_prof_collect(DExec *e, const int64_t *sym);
void dx_prof_free(DExec *e);

/* Plan-time: can the device run node i by itself (kinds DN_GEMM .. DN_XENT)? why: the reason. */
DKind dx_plan_node(const DExec *e, int i, const char **why);
/* Is group g of the {[add], layernorm | rmsnorm} form k_norm_fwd runs? */
int dx_is_norm_group(const DExec *e, const DGroup *g);
/* Is group g (root >= 0) a product with a cuBLASLt epilogue (dexec.h)? Its DevEpilogue, the
 * bias node into *bias and into *cover how many members from the root the product computes (2:
 * root, add; 3: with the activation or a residual add; the rest, the tail, then runs as a group
 * of its own); *resid the node cuBLASLt adds as its C (DGroup.resid) or -1; DEV_EPI_NONE
 * otherwise (with *resid >= 0: the product + R, no epilogue). */
int dx_epilogue(const DExec *e, const DGroup *g, int *bias, int *cover, int *resid);

/* Storage dtypes (dexec_dtype.c): decides e->st / e->in16 from the plan's kinds (before the
 * kernels are compiled); dx_dtype_check: is that decision still valid for the final plan?
 * dx_dtype_note: counts an allocation of node's value into the run's byte statistics. */
int dx_act16_on(const DExec *e); /* bf16 mode, activations not refused (MAMC_CUDA_BF16_ACT=0) */
int dx_dtype_plan(DExec *e);
int dx_dtype_check(const DExec *e);
void dx_dtype_note(DExec *e, int node, uint64_t bytes);
int64_t dx_dtype_count(const DExec *e); /* values stored as bf16 (materialised: not views, not
                                         * fused kernels' internal values) */
/* bytes an element of node's value: 2 when stored as bf16, else 4 */
static inline int dx_esize(const DExec *e, int node) { return e->st[node] ? 2 : 4; }

/* Launches a hand-written kernel for node (dev_launch; errors under the node's name). */
int dx_launch(DExec *e, int node, int mod, const char *name, unsigned gx, unsigned gy, unsigned gz,
              unsigned block, unsigned smem, const void *args);
/* A scratch device buffer of `floats` 4-byte elements (zeroed when zero); the caller frees it. */
int dx_scratch(DExec *e, int node, int64_t floats, DPtr *p, int zero);
/* k_copy_nd with argument block c, for node i: into node i's storage dtype from src16's (1: the
 * source is bf16), converting where they differ (k_copy_nd16, k_copy_cvt). */
int dx_copy_launch(DExec *e, int i, KaCopy *c, int src16);
/* Plan time, after the storage dtypes (dexec_copy.c): transposes, slices and expands read only
 * by copies become DN_FOLD (not run; their readers read through them); MAMC_CUDA_FOLD_COPIES=0
 * keeps every copy. */
void dx_fold_copies(DExec *e);
/* Plan time (dexec_copy.c): a view read through folded node chains lives until `last`: x and
 * every folded node down to the buffer it reads get last_use >= last. */
void dx_fold_keep(DExec *e, int x, int last);
/* Strides stn[] at which a reshape to shape sn (rank rn) steps through a view of shape so and
 * strides sto (rank ro) without moving data (NumPy's no-copy reshape: axes merged or split must
 * be contiguous within each group); 0 when it cannot. */
int dx_reshape_strides(int ro, const int64_t *so, const int64_t *sto, int rn, const int64_t *sn, int64_t *stn);
/* Plan time: can node `from`'s elements, lying at strides from_st[w] under the sample bindings
 * e->sample[w], be read with node `to`'s shape as strides in every run? Their leading axes are
 * the same dims, the rest constant on both sides and lying the same way under both bindings
 * (so in every run), and the reshape of those is strides (dx_reshape_strides). */
int dx_reshape_fixed(const DExec *e, int from, int to, const int64_t *from_st[2]);
/* Plan time, last (dexec_place.c): concat operands written in place into the concat's buffer
 * by their producers (e->host); a concat left with nothing to copy becomes DN_INTO. Run time:
 * where node v's value goes, st[] its strides in elements — its own buffer, or its concat's at
 * v's place; with alloc, that buffer is allocated when it has none yet (0: failed, e->err),
 * else 0 when there is none. */
void dx_place_concats(DExec *e);
DPtr dx_dest(DExec *e, int v, const int64_t *sym, int64_t *st, int alloc);
/* Node x as a strided view (dexec_copy.c): element idx at buffer[off + sum idx[d] st[d]]
 * (elements of its storage) — its own buffer, or through folded copies the buffer they read. */
DPtr dx_view(const DExec *e, int x, const int64_t *sym, int64_t *off, int64_t *st);
/* Softmax attention node i runs on tensor cores (attention_tc.cu; decided from its static
 * types, so plan and run agree: bf16, D = Dv = 32 or 64, sm_80+ or the emulation). */
int dx_attn_tc(const DExec *e, int i);
/* Plan time, after dx_fold_copies (dexec_attn_io.c): the heads' transposes around tensor-core
 * attention become DN_FOLD (operands) and DN_INTO (results), gradients read their forward's o and
 * lse (e->aio); MAMC_CUDA_ATTN_IO=0: none of this. */
void dx_fold_attn_io(DExec *e);
/* Run time (dexec_attn_io.c): operand x of an attention node — its address, and where its rows
 * lie (*L: packed, or the strides of the transpose folded into the reading); DN_INTO node t's
 * rows of the result it transposes (*L) and their address (0: no buffer yet), or the same with
 * the buffer allocated where there is none (0: failed, e->err). */
DPtr dx_rows_in(const DExec *e, int x, const int64_t *sym, KaRows *L);
DPtr dx_into_rows(DExec *e, int t, const int64_t *sym, KaRows *L);
DPtr dx_rows_into(DExec *e, int t, const int64_t *sym, KaRows *L);

/* Run-time, one node (or group) each; 1 ok, 0 with e->err. */
/* matmul node i into node out's buffer (i itself, or an epilogue group's last node); epi
 * (DevEpilogue) with bias[N]: the epilogue in the same product; aux: GELU_AUX's pre-activation
 * output (the add node's buffer; else 0); R: a matrix added (DevGemm.R; else 0). Stored dtypes
 * from e->st. */
int dx_gemm(DExec *e, int i, const int64_t *sym, int out, int epi, DPtr bias, DPtr aux, DPtr R);
int dx_summed(DExec *e, int i, const int64_t *sym);
int dx_copy(DExec *e, int i, const int64_t *sym);
int dx_gather(DExec *e, int i, const int64_t *sym);
int dx_attn(DExec *e, int i, const int64_t *sym);
int dx_linattn(DExec *e, int i, const int64_t *sym);
int dx_xent(DExec *e, int i, const int64_t *sym);
/* Plan time (dexec_ops.c): cross-entropy gradients paired with their forward (KaXent.row_lse) */
void dx_pair_xent(DExec *e);
int dx_norm_group(DExec *e, const DGroup *g, const int64_t *sym);
int dx_host(DExec *e, int i, const int64_t *sym, const InterpCx *cx);

#endif
