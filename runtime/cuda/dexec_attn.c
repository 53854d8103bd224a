/* dexec_attn.c — the device executor's attention nodes (dexec.h): softmax_attention
 * (k_attn_fwd), softmax_attention_grad (k_attn_fwd again for o and lse, k_attn_bwd_*, packed
 * with k_copy_nd) — or both as batched products around two row kernels (use_gemm below). Which
 * shapes run here is decided at plan time (dexec_ops.c: attn_ok). Softmax attention whose
 * operands and result are bf16 activations (dexec_dtype.c) runs the kernels named 16, or those
 * of attention_tc.cu on tensor cores (use_tc). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dexec_internal.h"

static const IrNode *N(const DExec *e, int i) { return &e->p->graphs.v[e->graph].nodes.v[i]; }

/* ---- attention -------------------------------------------------------------------------------- */

/* part [rows, D] of softmax_attention_grad's result (row width W) from column col: k_copy_nd */
static int attn_pack(DExec *e, int i, DPtr src, int64_t rows, int64_t D, int64_t W, int64_t col) {
  KaCopy c;
  memset(&c, 0, sizeof c);
  c.src = src, c.dst = e->val[i], c.rank = 2, c.dst_off = col;
  c.ext[0] = rows, c.ext[1] = D;
  c.src_st[0] = D, c.src_st[1] = 1, c.dst_st[0] = W, c.dst_st[1] = 1;
  return dx_copy_launch(e, i, &c, e->st[i]); /* the scratch has the result's dtype */
}

/* a gradient's dk and dv scratch (and dq's, wrt all) into node i's packed result of row width W:
 * dq | dk | dv (wrt all), dk | dv (wrt kv) */
static int pack_kv(DExec *e, int i, int wrt, DPtr dq, DPtr dk, DPtr dv, int64_t rq, int64_t rk, int64_t D, int64_t Dv,
                   int64_t W) {
  int64_t kc = wrt == 0 ? D : 0;
  return (wrt != 0 || attn_pack(e, i, dq, rq, D, W, 0)) && attn_pack(e, i, dk, rk, D, W, kc) &&
         attn_pack(e, i, dv, rk, Dv, W, kc + D);
}

static void free3(DExec *e, DPtr a, DPtr b, DPtr c) {
  dev_free(e->dev, a);
  dev_free(e->dev, b);
  dev_free(e->dev, c);
}

static int packed(const KaRows *L) { return L->r == 0; }

/* The operands, sizes, causality and scale (0: 1/sqrt(D)) of attention node i (forward or
 * gradient: q, k, v[, mask], ...) into *a; node i's output buffer where it has one (none when
 * its results go straight into transposes' buffers: e->aio). */
static int attn_args(DExec *e, int i, const int64_t *sym, int has_mask, KaAttn *a) {
  const IrNode *n = N(e, i);
  int64_t sq[IR_MAX_RANK], sk[IR_MAX_RANK];
  dx_shape(e, n->in[0], sym, sq);
  dx_shape(e, n->in[1], sym, sk);
  if (e->aio[i].into[0] < 0 && !dx_alloc(e, i, sym)) return 0;
  memset(a, 0, sizeof *a);
  a->q = dx_rows_in(e, n->in[0], sym, &a->lq), a->k = dx_rows_in(e, n->in[1], sym, &a->lk);
  a->v = dx_rows_in(e, n->in[2], sym, &a->lv);
  a->mask = has_mask ? e->val[n->in[3]] : 0;
  a->B = (int)sq[0], a->H = (int)sq[1], a->Sq = (int)sq[2], a->Sk = (int)sk[2], a->D = (int)sq[3];
  a->causal = (int)ir_get_i(n, "causal");
  a->bf16 = e->st[i]; /* q k v (dO) and the result share it (dexec_dtype.c): the kernels named 16 */
  double scale = ir_get_f(n, "scale");
  a->scale = (float)(scale != 0 ? scale : 1.0 / sqrt((double)a->D));
  return 1;
}

/* The flash form on tensor cores (attention_tc.cu, k_fa_*: mma.sync, bf16 in, f32 accumulate):
 * for bf16 operands with D = Dv = 32 or 64, on compute capability 8.0 or later (the host
 * emulation: always, so that the tests run them); MAMC_CUDA_ATTN_TC=0 keeps attention.cu's
 * (dx_attn_tc). Where it applies, auto (below) takes it over the products at every size. */
static int use_tc(const DExec *e, int i) { return dx_attn_tc(e, i); }

/* ---- the products' form: S = q k^T, P = softmax (k_attn_softmax), o = P v through cuBLASLt ----
 * (tensor cores; the [B H, Sq, Sk] matrices stored: S/P, and dP/dS in the backward). Which form
 * runs: MAMC_CUDA_ATTN=flash | gemm | auto (default): auto takes the tensor-core flash kernels
 * where they apply (use_tc), else the products where one [B H, Sq, Sk] f32 matrix fits in
 * 256 MiB, and always where the flash kernels lack the head dim. */
static int use_gemm(const DExec *e, int i, const KaAttn *a, int64_t Dv, int grad) {
  const char *m = getenv("MAMC_CUDA_ATTN");
  int flash_ok = a->D == Dv && (a->D == 32 || a->D == 64 || (a->D == 128 && !grad));
  if (!flash_ok || (m && !strcmp(m, "gemm"))) return 1;
  if ((m && !strcmp(m, "flash")) || use_tc(e, i)) return 0;
  return (double)a->B * a->H * a->Sq * a->Sk * 4 <= 256.0 * (1 << 20);
}

/* one batched product over the B H heads: C[b] = op(A[b]) op(B[b]), [M, N] each */
static int head_gemm(DExec *e, int i, DPtr A, int a16, int ta, DPtr B, int b16, int tb, DPtr C, int c16, int64_t M,
                     int64_t N, int64_t K, int64_t BH) {
  DevGemm g = {A, B, C, M, N, K, BH, M * K, K * N, M * N, ta, tb, 0, e->bf16, 0, 0, a16, b16, c16, 0};
  e->stats.gemm_flops += 2.0 * (double)M * (double)N * (double)K * (double)BH;
  return dev_gemm(e->dev, &g) || dx_dev_fail(e, i);
}

static int row_kernel(DExec *e, int i, const char *name, KaAttn *a) {
  int64_t rows = (int64_t)a->B * a->H * a->Sq;
  return dx_launch(e, i, KMOD_ATTENTION, name, dev_grid(e->dev, rows * 32, 256), 1, 1, 256, 0, a);
}

/* forward: o = softmax(scale q k^T) v into node i's result */
static int attn_fwd_gemm(DExec *e, int i, KaAttn *a, int64_t Dv) {
  int64_t BH = (int64_t)a->B * a->H;
  DPtr S;
  if (!dx_scratch(e, i, BH * a->Sq * a->Sk, &S, 0)) return 0;
  a->s = S, a->lse = 0;
  int q16 = a->bf16, ok = head_gemm(e, i, a->q, q16, 0, a->k, q16, 1, S, 0, a->Sq, a->Sk, a->D, BH) &&
                          row_kernel(e, i, "k_attn_softmax", a) &&
                          head_gemm(e, i, S, 0, 0, a->v, q16, 0, a->o, e->st[i], a->Sq, Dv, a->Sk, BH);
  dev_free(e->dev, S);
  return ok;
}

/* backward: P again, dv = P^T dO, dP = dO v^T, dS (k_attn_dsoftmax), dq = dS k, dk = dS^T q;
 * scratch in the result's dtype, packed as the flash form packs (wrt all: dq | dk | dv) */
static int attn_grad_gemm(DExec *e, int i, KaAttn *a, int64_t Dv, int wrt) {
  int64_t BH = (int64_t)a->B * a->H, D = a->D, rq = BH * a->Sq, rk = BH * a->Sk;
  int64_t W = wrt == 1 ? D : wrt == 2 ? D + Dv : 2 * D + Dv;
  int x16 = a->bf16, r16 = e->st[i];
  DPtr S = 0, dP = 0, dq = 0, dk = 0, dv = 0;
  int ok = dx_scratch(e, i, rq * a->Sk, &S, 0) && dx_scratch(e, i, rq * a->Sk, &dP, 0);
  a->s = S, a->ds = dP, a->lse = 0;
  ok = ok && head_gemm(e, i, a->q, x16, 0, a->k, x16, 1, S, 0, a->Sq, a->Sk, D, BH) && row_kernel(e, i, "k_attn_softmax", a);
  ok = ok && head_gemm(e, i, a->dO, x16, 0, a->v, x16, 1, dP, 0, a->Sq, a->Sk, Dv, BH) &&
       row_kernel(e, i, "k_attn_dsoftmax", a);
  if (ok && wrt != 2) {
    ok = wrt == 1 || dx_scratch(e, i, rq * D, &dq, 0);
    ok = ok && head_gemm(e, i, dP, 0, 0, a->k, x16, 0, wrt == 1 ? e->val[i] : dq, r16, a->Sq, D, a->Sk, BH);
  }
  if (ok && wrt != 1) {
    ok = dx_scratch(e, i, rk * D, &dk, 0) && dx_scratch(e, i, rk * Dv, &dv, 0) &&
         head_gemm(e, i, dP, 0, 1, a->q, x16, 0, dk, r16, a->Sk, D, a->Sq, BH) &&
         head_gemm(e, i, S, 0, 1, a->dO, x16, 0, dv, r16, a->Sk, Dv, a->Sq, BH);
    ok = ok && pack_kv(e, i, wrt, dq, dk, dv, rq, rk, D, Dv, W);
  }
  dev_free(e->dev, S);
  dev_free(e->dev, dP);
  free3(e, dq, dk, dv);
  return ok;
}

/* one flash kernel, part "fwd" or "bwd_dq" (a block per tile of queries) or "bwd_dkdv" (per tile
 * of keys): attention.cu's (16 queries, 32 keys; named 16 for bf16) or on tensor cores (64) */
static int flash_launch(DExec *e, int i, const char *part, int over_keys, int tc, KaAttn *a) {
  char name[40];
  int tile = tc ? 64 : over_keys ? 32 : 16, n = over_keys ? a->Sk : a->Sq;
  if (tc) snprintf(name, sizeof name, "k_fa_%s_d%d", part, a->D);
  else snprintf(name, sizeof name, "k_attn_%s%s_d%d", part, a->bf16 ? "16" : "", a->D);
  return dx_launch(e, i, tc ? KMOD_ATTENTION_TC : KMOD_ATTENTION, name, (unsigned)((n + tile - 1) / tile), (unsigned)a->H,
                   (unsigned)a->B, 128, 0, a);
}

static int64_t v_dim(DExec *e, int i, const int64_t *sym) {
  int64_t sv[IR_MAX_RANK];
  dx_shape(e, N(e, i)->in[2], sym, sv);
  return sv[3];
}

/* softmax_attention_grad's part p (dq, dk, dv; of width D in a packed result of W: wrt all dq |
 * dk | dv, kv dk | dv, q dq) on tensor cores: into the packed result (rows of W), or into the
 * transpose that alone reads it (e->aio) */
static DPtr part_out(DExec *e, int i, const int64_t *sym, int p, int64_t col, int64_t W, int64_t H, int64_t n, KaRows *L) {
  int t = e->aio[i].into[p];
  if (t >= 0) return dx_rows_into(e, t, sym, L);
  L->r = W, L->h = n * W, L->b = H * n * W;
  return e->val[i] + (uint64_t)col * 2;
}

/* softmax_attention_grad (D = Dv = 32 or 64): the forward again for o and lse (k_attn_fwd) —
 * on tensor cores, where the plan paired it with its forward (e->aio[i].fwd), that forward's o
 * and kept lse instead —, delta = rowsum(dO o) (k_attn_bwd_pre; on tensor cores with dq wanted,
 * the dq kernel computes it: KaAttn.delta_out), then k_attn_bwd_dq (wrt all,
 * q: straight into the result for q) and k_attn_bwd_dkdv (all, kv) into scratch, packed with
 * k_copy_nd; the tensor-core kernels write every part straight into the packed result, or into
 * the transposes that read the parts (KaAttn.ldq, ldk, ldv). */
static int attn_grad(DExec *e, int i, const int64_t *sym) {
  const IrNode *n = N(e, i);
  int nin = n->nin, wrt = (int)ir_get_i(n, "wrt"); /* 0 all, 1 q, 2 kv */
  KaAttn a;
  if (!attn_args(e, i, sym, nin > 4, &a)) return 0;
  a.dO = dx_rows_in(e, n->in[nin - 1], sym, &a.ldO);
  int64_t Dv = v_dim(e, i, sym);
  int tc = use_tc(e, i), f = e->aio[i].fwd;
  int strided = !packed(&a.lq) || !packed(&a.lk) || !packed(&a.lv) || !packed(&a.ldO) || e->aio[i].into[0] >= 0 || f >= 0 ||
                e->aio[i].kv >= 0;
  if (strided && (!tc || use_gemm(e, i, &a, Dv, 1))) return dx_fail(e, i, "strided operands off the tensor-core path (internal error)");
  if (use_gemm(e, i, &a, Dv, 1)) return e->stats.attn_gemm++, attn_grad_gemm(e, i, &a, Dv, wrt);
  e->stats.attn_flash++, e->stats.attn_tc += tc;
  int64_t D = a.D, rq = (int64_t)a.B * a.H * a.Sq, rk = (int64_t)a.B * a.H * a.Sk, W = wrt == 1 ? D : wrt == 2 ? 2 * D : 3 * D;
  DPtr o = 0, lse = 0, delta = 0, dq = 0, dk = 0, dv = 0;
  int ok = dx_scratch(e, i, rq, &delta, 0);
  a.delta = delta;
  if (f >= 0) { /* the forward's o (where it went) and lse */
    int on = e->aio[f].into[0];
    a.o = on >= 0 ? dx_into_rows(e, on, sym, &a.lo) : e->val[f], a.lse = e->aio[f].lse;
    if (!a.o || !a.lse) return dev_free(e->dev, delta), dx_fail(e, i, "its forward's o or lse is gone (internal error)");
    e->stats.attn_reused++;
  } else {
    ok = ok && dx_scratch(e, i, rq * D, &o, 0) && dx_scratch(e, i, rq, &lse, 0);
    a.o = o, a.lse = lse;
    ok = ok && flash_launch(e, i, "fwd", 0, tc, &a);
  }
  a.delta_out = tc && wrt != 2; /* the tensor-core dq kernel computes delta, before dkdv reads it */
  ok = ok && (a.delta_out || dx_launch(e, i, KMOD_ATTENTION, a.bf16 ? "k_attn_bwd_pre16" : "k_attn_bwd_pre",
                                       dev_grid(e->dev, rq * 32, 256), 1, 1, 256, 0, &a));
  if (tc) { /* bf16: the result's dtype is q's */
    int pq = wrt == 2 ? -1 : 0, pk = wrt == 1 ? -1 : wrt == 2 ? 0 : 1, kv = e->aio[i].kv, at = i;
    if (kv >= 0) { /* dk and dv of the gradient wrt k and v paired with this one, into its places */
      at = kv, pk = 0, W = 2 * D;
      ok = ok && (e->aio[kv].into[0] >= 0 || dx_alloc(e, kv, sym));
    }
    if (ok && pq >= 0) ok = (a.dq = part_out(e, i, sym, pq, 0, wrt == 1 ? D : W, a.H, a.Sq, &a.ldq)) != 0;
    if (ok && pk >= 0) ok = (a.dk = part_out(e, at, sym, pk, pk * D, W, a.H, a.Sk, &a.ldk)) != 0;
    if (ok && pk >= 0) ok = (a.dv = part_out(e, at, sym, pk + 1, (pk + 1) * D, W, a.H, a.Sk, &a.ldv)) != 0;
    ok = ok && (pq < 0 || flash_launch(e, i, "bwd_dq", 0, tc, &a)) && (pk < 0 || flash_launch(e, i, "bwd_dkdv", 1, tc, &a));
  } else {
    if (ok && wrt != 2) {
      ok = wrt == 1 || dx_scratch(e, i, rq * D, &dq, 0);
      a.dq = wrt == 1 ? e->val[i] : dq;
      ok = ok && flash_launch(e, i, "bwd_dq", 0, tc, &a);
    }
    if (ok && wrt != 1) {
      ok = dx_scratch(e, i, rk * D, &dk, 0) && dx_scratch(e, i, rk * D, &dv, 0);
      a.dk = dk, a.dv = dv;
      ok = ok && flash_launch(e, i, "bwd_dkdv", 1, tc, &a) && pack_kv(e, i, wrt, dq, dk, dv, rq, rk, D, D, W);
    }
  }
  dev_free(e->dev, o);
  dev_free(e->dev, lse);
  dev_free(e->dev, delta);
  free3(e, dq, dk, dv);
  if (f >= 0 && e->aio[f].lse_last == i) { /* the forward's last gradient */
    dev_free(e->dev, e->aio[f].lse);
    e->aio[f].lse = 0;
  }
  return ok;
}

int dx_attn(DExec *e, int i, const int64_t *sym) {
  const IrNode *n = N(e, i);
  if (n->op == OP_SOFTMAX_ATTENTION_GRAD) return attn_grad(e, i, sym);
  KaAttn a;
  if (!attn_args(e, i, sym, n->nin > 3, &a)) return 0;
  a.o = e->aio[i].into[0] >= 0 ? dx_rows_into(e, e->aio[i].into[0], sym, &a.lo) : e->val[i];
  if (!a.o) return 0;
  int64_t Dv = v_dim(e, i, sym);
  int tc = use_tc(e, i), strided = !packed(&a.lq) || !packed(&a.lk) || !packed(&a.lv) || !packed(&a.lo);
  if (strided && (!tc || use_gemm(e, i, &a, Dv, 0))) return dx_fail(e, i, "strided operands off the tensor-core path (internal error)");
  if (use_gemm(e, i, &a, Dv, 0)) return e->stats.attn_gemm++, attn_fwd_gemm(e, i, &a, Dv);
  e->stats.attn_flash++, e->stats.attn_tc += tc;
  DPtr lse; /* kept for the gradients that read it (e->aio[i].lse_last; freed by the last) */
  int keep = e->aio[i].lse_last >= 0;
  if (!dx_scratch(e, i, (int64_t)a.B * a.H * a.Sq, &lse, 0)) return 0;
  a.lse = lse;
  int ok = flash_launch(e, i, "fwd", 0, tc, &a);
  if (keep && ok) e->aio[i].lse = lse;
  else dev_free(e->dev, lse);
  return ok;
}
