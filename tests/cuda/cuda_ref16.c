/* cuda_ref16.c — the GPU check's reference for bf16 plans of ill-conditioned programs
 * (cuda_check.c, programs[].bf16 == 2): the interpreter rounded to bf16 where the device's plan
 * rounds. Test code only. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "interp.h"
#include "tensor.h"

/* The f64 (or f32) interpreter with bf16 rounding where the device rounds: the reference of a
 * program whose gradients are too ill-conditioned to meet bf16's tolerances against the exact
 * interpreter (programs[].bf16 == 2, linattn.mam). Every matrix product's operands are rounded
 * to bf16 (dev_gemm's, in both bf16 modes), and each value that e's plan stores as bf16 (e->st;
 * none with MAMC_CUDA_BF16_ACT=0) is rounded after it is computed, as the device stores it:
 * not views (their base is), not a summed product's matmul (its reduce_sum is one GEMM from the
 * operands), not the members of a fused kernel that only the kernel itself reads (they stay f32
 * in registers, and so does every reader inside the kernel of a member stored for later), but a
 * fused kernel's root product (a GEMM of its own whose stored result the kernel reads; an
 * epilogue's is one cuBLASLt call). The device's remaining difference from this reference is
 * f32 arithmetic, amplified as the bf16 rounding is but hundreds of times smaller (linattn.mam in
 * the emulation: 4e-5 products only, 8e-4 with activations, against 0.41 and 0.52 from the exact
 * f64): a rounding lost or done otherwise (truncating products' operands or a bf16 C, or not
 * rounding the operands at all, tried) shows as the full bf16 effect (0.2 to 0.65). The plan
 * itself (which values are bf16) is taken as given: the other programs check it against f64. */
enum { MAX_OPERANDS = 16 };
int interp_bf16(const IrProgram *p, const IrGraph *g, const int64_t *sym, const Tensor *inputs, const ParamStore *ps,
                       const DExec *e, Tensor *values, InterpCx *cx) {
  int n = g->nodes.n, ninput = 0, ok = 1;
  unsigned char *rnd = calloc((size_t)n + 1, 1);
  int *gid = malloc(((size_t)n + 1) * sizeof *gid);
  Tensor *raw = calloc((size_t)n + 1, sizeof *raw), tmp[MAX_OPERANDS]; /* raw: unrounded values, for readers in the same kernel */
  const Tensor *ins[MAX_OPERANDS];
  memset(values, 0, sizeof *values * (size_t)n);
  if (!rnd || !gid || !raw) ok = 0, snprintf(cx->err, sizeof cx->err, "out of memory");
  for (int i = 0; ok && i < n; i++) gid[i] = -1, rnd[i] = e->st[i] && e->kind[i] != DN_VIEW && e->kind[i] != DN_NONE;
  for (int q = 0; ok && q < e->ngroups; q++) {
    const DGroup *gr = &e->groups[q];
    int last = gr->first + gr->count - 1;
    for (int j = gr->first; j <= last; j++) gid[j] = q, rnd[j] = e->st[j] && (j == last || e->last_use[j] > last);
    if (gr->root >= 0) gid[gr->root] = -1, rnd[gr->root] = e->st[gr->root] && !(gr->epi && !gr->epi_off);
  }
  for (int i = 0; ok && i < n; i++) {
    const IrNode *nd = &g->nodes.v[i];
    int nt = 0;
    if (nd->nin > MAX_OPERANDS) {
      snprintf(cx->err, sizeof cx->err, "%%%d: %d operands", i, nd->nin);
      ok = 0;
      break;
    }
    if (nd->op == OP_INPUT) ins[0] = &inputs[ninput++];
    else if (nd->op == OP_PARAM) ins[0] = rt_params_get(ps, nd->module, nd->param);
    for (int j = 0; nd->op != OP_INPUT && nd->op != OP_PARAM && j < nd->nin; j++) {
      int v = nd->in[j];
      ins[j] = rnd[v] && gid[v] >= 0 && gid[v] == gid[i] ? &raw[v] : &values[v];
      if (nd->op == OP_MATMUL && ins[j]->dt != DT_I32) { /* a product's operand: rounded to bf16 */
        memset(&tmp[nt], 0, sizeof tmp[nt]);
        if (!rt_tensor_copy(ins[j], &tmp[nt])) {
          ok = 0;
          break;
        }
        for (int64_t k = 0; k < tmp[nt].n; k++) rt_tensor_set(&tmp[nt], k, rt_bf16_to_f64(rt_bf16_from_f64(rt_tensor_get(&tmp[nt], k))));
        ins[j] = &tmp[nt++];
      }
    }
    ok = ok && interp_node(p, g, i, sym, ins, &values[i], cx);
    for (int t = 0; t < nt; t++) rt_tensor_free(&tmp[t]);
    if (ok && rnd[i]) {
      ok = rt_tensor_copy(&values[i], &raw[i]);
      for (int64_t k = 0; k < values[i].n; k++) rt_tensor_set(&values[i], k, rt_bf16_to_f64(rt_bf16_from_f64(rt_tensor_get(&values[i], k))));
    }
  }
  if (raw) interp_values_free(raw, n);
  if (!ok) interp_values_free(values, n);
  free(raw), free(gid), free(rnd);
  return ok;
}
