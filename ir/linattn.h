/* linattn.h — the operand layout and shape rule shared by the three linear-attention ops of
 * ops.def (linear_attention, linear_attention_state, linear_attention_grad), and DiJiang's
 * per-head decay. Every layer that touches the ops (shape rule, interpreter, fast kernels,
 * gradient rule, lowering pass) reads the operands through ir_linattn_read, so the order is
 * written once:
 *
 *   linear_attention        q, k, v, FEATURE..., GATES..., [S0]        -> o[B, H, Sq, Dv]
 *   linear_attention_state     k, v, FEATURE..., GATES..., [S0]        -> S[B, H, m, Dv']
 *   linear_attention_grad   q~, k~, v,           GATES..., [S0], dO    -> see wrt
 *
 *   q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, Dv]
 *   FEATURE  dct:     P[D, m], w[m]         phi(x) = softmax_j(w_j (x P)_j)   (released code)
 *            dct_exp: P[D, m], t[m], d[m]   phi(x) = d * exp(t * (x P))        (the paper)
 *            none:    nothing               phi(x) = x, m = D
 *   GATES    learned: g[B, H, S], beta[B, H, S]: log alpha_t and beta_t of
 *                     S_t = alpha_t S_{t-1} + beta_t phi(k_t)^T v_t   (causal only)
 *            decay:   nothing (alpha = gamma_h, beta = 1; ir_linattn_gamma); none: nothing
 *   S0[B, H, m, Dv'] the state before position 0 (causal only); Dv' = Dv + 1 with
 *            norm = running, whose last column is the running denominator's state z
 *   linear_attention_grad: q~, k~ are feature-mapped ([B, H, S, m], Sq = Sk), dO[B, H, S, Dv];
 *            wrt = qkv:   [B, H, S, m + m + Dv (+ 2 with gate learned)] = dq~ | dk~ | dv | dg | dbeta
 *            wrt = state: dS0[B, H, m, Dv'] (needs S0)
 */
#ifndef MAMC_IR_LINATTN_H
#define MAMC_IR_LINATTN_H

#include "ir.h"

enum { LA_FEAT_DCT, LA_FEAT_DCT_EXP, LA_FEAT_NONE };                       /* ops.def word order */
enum { LA_GATE_NONE, LA_GATE_DECAY, LA_GATE_LEARNED };
enum { LA_LOWER_AUTO, LA_LOWER_QUADRATIC, LA_LOWER_CHUNKED, LA_LOWER_RECURRENT };

typedef struct LinAttn {
  int q, k, v;              /* operand positions; -1 when absent (q of the state op) */
  int proj, fw, fd;         /* feature operands: P; w (dct) or t (dct_exp); d (dct_exp) */
  int g, beta;              /* learned gates */
  int state;                /* S0 */
  int dout;                 /* linear_attention_grad: dO */
  int feature, gate, running, causal, lower, wrt_state;
  int64_t chunk;
} LinAttn;

/* Reads the attributes and assigns the operand positions of a node of one of the three ops.
 * 0 with a message (without the op name) when the operand count fits no layout. */
int ir_linattn_read(const IrNode *n, LinAttn *la, char *err, size_t errlen);

/* The shape rule of the three ops: checks the operands and sets n->type. 0 with a message
 * (without the op name) in err. */
int ir_linattn_infer(const IrProgram *p, const IrGraph *g, IrNode *n, char *err, size_t errlen);

/* DiJiang's decay of head h of H (RetNet-style, as the released code):
 * gamma_h = 1 - exp(linspace(ln(1/32), ln(1/512), H)[h]), from 1 - 2^-5 to 1 - 2^-9. */
double ir_linattn_gamma(int64_t h, int64_t H);

#endif
