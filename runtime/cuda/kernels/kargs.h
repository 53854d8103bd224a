/* kargs.h — the argument blocks of the hand-written CUDA kernels (the .cu files beside it),
 * read by both sides: the host (C11, runtime/cuda/) fills them and the kernels (CUDA C++
 * through NVRTC; this file is embedded in front of every kernel source) take them by value.
 * Pointers are device addresses: typed pointers in device code, 64-bit integers on the host
 * (both 8 bytes, same layout). Every kernel takes exactly one block: `k_xxx(KaXxx a)`.
 * Tensors are dense, row-major, f32 (i32 where named); shapes are named per struct.
 */
#ifndef MAMC_KARGS_H
#define MAMC_KARGS_H

#ifdef __CUDACC_RTC__
#define KP(T) T *
#else
#include <stdint.h>
#define KP(T) uint64_t
#endif

enum { KA_MAX_RANK = 8, KA_ADAM_CHUNK = 4096 };

/* move.cu ------------------------------------------------------------------------------------
 * k_copy_nd: for every index i of the iteration shape ext[rank] (n elements in all),
 *   dst[dst_off + sum_a i_a dst_st[a]] = src[src_off + sum_a i_a src_st[a]]      (4-byte elements)
 * (transpose, slice, expand: src strides; pad, concat: dst strides into a zeroed output)
 * k_copy_nd16: the same over 2-byte elements (bf16), k_copy_nd_v16 over 16-byte ones (offsets,
 * strides and the addresses multiples of 16 bytes); k_copy_cvt: converting, cvt 1: f32 src to
 * bf16 dst (nearest even), 2: bf16 src to f32 dst (offsets and strides in elements of each) */
typedef struct KaCopy {
  KP(const float) src;
  KP(float) dst;
  long long n, src_off, dst_off;
  int rank, cvt;
  long long ext[KA_MAX_RANK], src_st[KA_MAX_RANK], dst_st[KA_MAX_RANK];
} KaCopy;

/* k_gather: out[i, :] = table[ids[i], :] (row floats each; an id outside [0, V) gives zeros)
 * k_scatter_max, k_scatter_add, k_scatter_fin: out[ids[i], :] += src[i, :], deterministic (move.cu:
 * 64-bit fixed point in acc, [V, row], with mx, the largest finite |src| as bits; out, acc and mx
 * zeroed first; nids <= 2^lgn) */
typedef struct KaGather {
  KP(const float) table;
  KP(const int) ids;
  KP(float) out;
  KP(const float) src;
  long long nids, row, V;
  KP(unsigned long long) acc;
  KP(unsigned) mx;
  long long lgn;
} KaGather;

/* k_axpy_n: k_axpy over `count` vectors at once, vector j of the grid's y-blocks: y[j][i] +=
 * a * x[j][i] for i < n[j] (a times *a_dev when set) — the trainer's per-gradient sums in one
 * launch (by value: a CUDA graph keeps its copy) */
enum { KA_AXPY_N = 96 };
typedef struct KaAxpyN {
  KP(float) y[KA_AXPY_N];
  KP(const float) x[KA_AXPY_N];
  long long n[KA_AXPY_N];
  KP(const float) a_dev;
  int count;
  float a;
} KaAxpyN;

/* k_axpy: y[i] += a * x[i] (a = scale, times *a_dev when a_dev is set)
 * k_fill: y[i] = a
 * k_to_bf16: yb[i] = bf16(x[i]) (round to nearest even) */
typedef struct KaVec {
  KP(float) y;
  KP(const float) x;
  KP(unsigned short) yb;
  KP(const float) a_dev;
  long long n;
  float a, pad_;
} KaVec;

/* attention.cu ---------------------------------------------------------------------------------
 * q[B, H, Sq, D], k[B, H, Sk, D], v[B, H, Sk, D], mask[B, Sk] (f32, nonzero keeps; may be 0),
 * o[B, H, Sq, D], lse[B, H, Sq] (log-sum-exp of the scaled visible scores; -inf: none),
 * dO like o, delta[B, H, Sq] = rowsum(dO * o), dq/dk/dv like q/k/v.
 * Key j is visible from query i when the mask keeps it and, causal, j <= i + (Sk - Sq).
 * D (= Dv) is 32, 64 or 128 (the kernel name says which). */
/* A tensor's rows as strides (elements): row r of head h of batch b starts b * b + h * h + r * r
 * elements past its pointer, a row's D elements contiguous — [B, S, H, D] read as [B, H, S, D]
 * (r = H D, h = D), or a packed gradient's part (rows of 3 D). r = 0: packed [B, H, n, D]. */
typedef struct KaRows {
  long long b, h, r;
} KaRows;

typedef struct KaAttn {
  KP(const float) q;
  KP(const float) k;
  KP(const float) v;
  KP(const float) mask;
  KP(float) o;
  KP(float) lse;
  KP(const float) dO;
  KP(float) delta;
  KP(float) dq;
  KP(float) dk;
  KP(float) dv;
  KP(float) s;  /* k_attn_softmax, k_attn_dsoftmax: scores -> probabilities [B H Sq, Sk], in place */
  KP(float) ds; /* k_attn_dsoftmax: dP -> dS = scale P (dP - rowsum(P dP)) [B H Sq, Sk], in place */
  int B, H, Sq, Sk, causal, D;
  float scale;
  int bf16; /* the kernels named 16 (q k v o dO dq dk dv in bf16) set it: the CPU references read it */
  int delta_out; /* k_fa_bwd_dq: computes delta = rowsum(dO o) itself and writes it (for
                  * k_fa_bwd_dkdv after it) instead of reading k_attn_bwd_pre16's */
  /* where the rows of q, k, v, o, dO, dq, dk, dv lie (KaRows) — honoured by attention_tc.cu's
   * kernels and k_attn_bwd_pre16 (their CPU references too); the others read packed forms */
  KaRows lq, lk, lv, lo, ldO, ldq, ldk, ldv;
} KaAttn;

/* linattn.cu -----------------------------------------------------------------------------------
 * k_la_features: phi of every row: x[rows, D] -> out[rows, m] with P[D, m] and (dct)
 *   softmax_j(w_j (x P)_j), (dct_exp) d_j exp(t_j (x P)_j) — w / t in fw, d in fd.
 * k_la_local, k_la_carry, k_la_out / k_la_grad: the chunked causal core on feature-mapped
 * operands, a block per (b, h) slice, slice of DVB value columns and chunk of 32 positions:
 *   q[BH, T, m], k[BH, T, m], v[BH, T, dv], lg[BH, T] (log-gates; 0 = none), beta[BH, T] (0 = 1),
 *   gamma_log: the decay's ln gamma_h per head (gate decay; used when lg is 0 and decay set)
 *   reverse: positions run T-1 .. 0 (the anti-causal half of a bidirectional attention);
 *   strict: a position does not see itself.
 *   fwd: o[BH, T, dv] += the attention;  bwd: dq[BH, T, m], dkb[BH, T, m] (gradient of beta k),
 *   dv[BH, T, dv] += their parts given dO[BH, T, dv] (atomics: the value slices add up);
 *   states, rstates[BH, nchunks, m, dv]: the chunks' start states, forward and reverse (each
 *   chunk's own sum first, k_la_local; carried across chunks in place, k_la_carry);
 *   decays[BH, nchunks]: each chunk's e^{sum of its log-gates}; part: which state (0 forward,
 *   1 reverse) k_la_local and k_la_carry work on.
 * linattn_tc.cu's k_la_*_tc: the same on tensor cores, a block per (b, h) slice and segment of
 *   seg chunks (every value column): the states are the segments' (states, rstates[BH, nseg,
 *   m, dv], decays[BH, nseg]; k_la_carry carries them), and each block walks its segment's
 *   chunks in order with the running state in shared memory. acc 0: o, dq, dkb, dv are
 *   stored (=), 1: added (+=). seg 0 or 1 (linattn.cu's kernels): a segment is a chunk. */
typedef struct KaLin {
  KP(const float) x;
  KP(const float) P;
  KP(const float) fw;
  KP(const float) fd;
  KP(float) out;
  KP(const float) q;
  KP(const float) k;
  KP(const float) v;
  KP(const float) lg;
  KP(const float) beta;
  KP(float) o;
  KP(const float) dO;
  KP(float) dq;
  KP(float) dkb;
  KP(float) dv;
  KP(float) states;
  KP(float) rstates;
  KP(float) decays;
  long long rows, BH;
  int H, T, D, m, dv_w, feature, decay, reverse, strict, part, seg, acc;
  int v16, dO16; /* v, dO stored as bf16 (the executor's bf16 activations: the core widens them
                  * on load; else f32) */
  /* where the rows of q, k, v, o, dO lie (KaRows, slice bh = b H + h; 0: packed [BH, T, w]) —
   * the core kernels' (v, o, dO read and written through the heads' transposes, dexec_attn_io.c) */
  KaRows lq, lk, lv, lo, ldO;
} KaLin;

/* k_la_pack: the packed gradient of linear_attention_grad from the cores' sums:
 *   out[BH, T, W] = dq | beta dkb | dv[:Dv] | dg | dbeta  with dg_t = sum_{r >= t} (q.dq - k.(beta dkb))_r
 *   (W = 2m + Dv (+ 2 with learned gates: lg / beta set)) */
typedef struct KaLinPack {
  KP(const float) q;
  KP(const float) k;
  KP(const float) beta;
  KP(const float) dq;
  KP(const float) dkb;
  KP(const float) dv;
  KP(float) out;
  KP(float) scratch;   /* [BH, T]: q.dq - k.dk per position (learned gates) */
  long long BH;
  int T, m, Dv, dv_w, learned, pad_;
} KaLinPack;

/* xent.cu ------------------------------------------------------------------------------------------
 * k_xent_rows: per row r of logits[rows, V] with target t = tg[r] (i32):
 *   loss_r = (1 - s)(lse - x_t) + s (lse - mean_j x_j) when t != ignore, else 0; cnt_r = 0/1
 * k_xent_sum: out[0] = sum loss / max(1, sum cnt) (one block, fixed order: deterministic), and
 *   that count in row_cnt[rows] (row_cnt holds rows + 1 floats)
 * k_xent_grad: dlogits[r, j] = (softmax_j - q_j) * [t != ignore] * g[0] / count, with
 *   q = (1 - s) onehot(t) + s / V (cross_entropy_grad), count from cnt[rows] (k_xent_sum or
 *   k_xent_count). k_xent_grad16: logits and dlogits stored as bf16.
 * row_lse (rows + 1 floats, or 0): k_xent_rows writes each row's log-sum-exp there and
 *   k_xent_sum the count of targets != ignore (at least 1) at [rows]; k_xent_grad given them
 *   reads both instead of computing its own (one pass over the row, no k_xent_count: the
 *   gradient of a paired forward, DAttnIo.fwd). */
typedef struct KaXent {
  KP(const float) logits;
  KP(const int) tg;
  KP(float) row_loss;
  KP(float) row_cnt;
  KP(float) out;
  KP(const float) g;
  KP(float) dlogits;
  KP(float) row_lse;
  long long rows, V;
  int ignore, bf16; /* bf16: k_xent_rows16 / _grad16 (logits, dlogits as bf16) set it; the CPU reference reads it */
  float smoothing, pad2_;
} KaXent;

/* norm.cu ---------------------------------------------------------------------------------------------
 * k_norm_fwd: per row of x[rows, C] (x = a + b when b is set; xs receives x when set):
 *   layernorm  y = (x - mean) / sqrt(var + eps) * gain + bias   (gain / bias may be 0: 1 / 0)
 *   rmsnorm    y = x / sqrt(mean(x^2) + eps) * gain
 * groups > 1 (groupnorm, layernorm only): each row splits into `groups` contiguous groups of
 *   W = C / groups channels, mean and var per (row, group); gain[c] / bias[c] over the whole row
 *   (runtime/interp/norm.c's groupnorm). One warp per (row, group) in k_norm_fwd; k_norm_fwd_small
 *   (same arguments, same result) gives each (row, group) one thread, for W < 32. */
typedef struct KaNorm {
  KP(const float) a;
  KP(const float) b;
  KP(const float) gain;
  KP(const float) bias;
  KP(float) y;
  KP(float) xs;
  long long rows, C;
  int rms, groups;  /* groups 0 or 1: the whole row is one group */
  float eps, pad2_;
} KaNorm;

/* adamw.cu -------------------------------------------------------------------------------------------
 * One launch over every parameter a step updates; the work is cut into chunks of
 * KA_ADAM_CHUNK elements, one block each: chunk c covers tensor tab[c] elements
 * [start[c], min(start[c] + KA_ADAM_CHUNK, n)).
 * KaAdamTensor: w (f32 master), g (the step's token-weighted gradient sum, zeroed after use),
 *   m, v, wb (bf16 copy of w, or 0), n, module (index into steps and inv).
 * k_sqnorm: part[c] = sum over chunk c of (inv[module] g)^2 (f64); k_sqnorm_final:
 *   norm[0] = sqrt(sum of parts, in chunk order)
 * k_adamw: w <- AdamW(w, inv[module] * g * clip, m, v) at step steps[module] with lr, where
 *   clip = max_norm / (norm + 1e-6) when max_norm > 0 and norm > max_norm, else 1
 *   (runtime/optim.c's update in f64 per element; kind 0 AdamW, 1 Adam with L2). */
typedef struct KaAdamTensor {
  KP(float) w;
  KP(float) g;
  KP(float) m;
  KP(float) v;
  KP(unsigned short) wb;
  long long n;
  int module, pad_;
} KaAdamTensor;

typedef struct KaAdamStep {  /* per step, copied to the device before the launch */
  double lr, max_norm;
} KaAdamStep;

typedef struct KaAdam {
  KP(const KaAdamTensor) tensors;
  KP(const int) tab;
  KP(const long long) start;
  KP(const float) inv;         /* per module: 1 / tokens (0: not trained this step) */
  KP(const long long) steps;   /* per module: its optimizer step (1-based) */
  KP(const KaAdamStep) step;
  KP(double) part;             /* [nchunks] */
  KP(double) norm;             /* [1] */
  long long nchunks;
  double beta1, beta2, eps, wd;
  int kind, pad_;
} KaAdam;

#endif
