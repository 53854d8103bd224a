/* llvm.c — the LLVM printer: KIR -> LLVM IR through the LLVM C API (compiled only with
 * LLVM). One function per kernel with the CgFn signature (cpu.h):
 *
 *   elementwise: for each run of the outer range [begin, end) that stays in one row of
 *     the innermost axis: split the row index into the outer axes' indices (udiv/urem by
 *     their extents), then an inner loop over the innermost axis — a plain counted loop
 *     with unit or zero strides, which LLVM's loop vectoriser turns into vector code.
 *   row: for each row in [begin, end): its kept indices, then one loop nest over the
 *     reduced axes per pass (accumulators in allocas, promoted to registers by mem2reg),
 *     the row stores, and the element pass.
 *
 * Values are emitted lazily from the expression list with a memo per loop depth, and the
 * ones a loop does not vary along are emitted before the loop (so a row's statistics or a
 * broadcast operand are computed once per row, not per element). A kernel with one output
 * gets a copy of its body per input it may run in place over (see cpu.h), picked at entry.
 * Dropout draws are the runtime's splitmix64 counter stream computed in i64.
 * Numerics are documented in cpu.h: plain IEEE instructions, NaN-exact max/min selects,
 * libm calls carrying glibc libmvec vector variants (VFABI attribute), and `reassoc` only
 * on reduction steps. A buffer stored as bf16 (KBuf.bf16) is an i16 array: loads widen
 * (shift into the high half of an f32), stores round to nearest even in integer arithmetic
 * (NaN kept quiet), bit for bit the CUDA printer's cg_bf2f / cg_f2bf.
 */
#if MAMC_HAVE_LLVM
#include "llvm_emit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/DebugInfo.h>
#include <math.h>
#include <stdlib.h>

enum { MAXDEPTH = 2 * KIR_MAX_AXES + 4 };

typedef struct Em {
  LLVMContextRef cx;
  LLVMModuleRef m;
  LLVMBuilderRef b;
  LLVMValueRef fn;
  LLVMBasicBlockRef entry;
  const Kir *k;
  const CgLlvmTarget *tg;
  LLVMTypeRef i1, i16, i32, i64, f32, f64, ptr;
  LLVMValueRef bufp[CG_MAX_BUFS], dim[CG_MAX_DIMS], idx[KIR_MAX_AXES];
  LLVMValueRef *val, *accslot;
  LLVMValueRef zero; /* an 8-byte zero: what a guarded load reads where its guard is 0 */
  int *vdepth;
  unsigned *vgen, *axes;
  int *level;
  int depth;
  unsigned gen[MAXDEPTH];
  Vec(LLVMValueRef) used; /* vector variants kept alive through llvm.compiler.used */
  int scoped;             /* the body being emitted tags buffer accesses with the lists below */
  LLVMValueRef scope[CG_MAX_BUFS], noalias[CG_MAX_BUFS]; /* per buffer: {its scope}, {the others'} */
  Arena arena;
} Em;

static LLVMTypeRef T(Em *E, KType t) { return t == KT_F32 ? E->f32 : t == KT_F64 ? E->f64 : E->i32; }
static LLVMValueRef i64c(Em *E, int64_t v) { return LLVMConstInt(E->i64, (unsigned long long)v, 1); }

static LLVMValueRef intrinsic(Em *E, const char *name, LLVMTypeRef *tys, int nty, LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(E->m, id, tys, (size_t)nty);
  return LLVMBuildCall2(E->b, LLVMIntrinsicGetType(E->cx, id, tys, (size_t)nty), f, args, (unsigned)nargs, "");
}

/* ---- libm calls with vector variants ------------------------------------------------- */

static void fn_attr(Em *E, LLVMValueRef f, const char *name, uint64_t v) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(E->cx, kind, v));
}

static LLVMValueRef libm_call(Em *E, const char *name, KType t, LLVMValueRef *args, int nargs) {
  LLVMTypeRef ty = T(E, t), ps[2] = {ty, ty};
  LLVMTypeRef fty = LLVMFunctionType(ty, ps, (unsigned)nargs, 0);
  LLVMValueRef f = LLVMGetNamedFunction(E->m, name);
  if (!f) {
    f = LLVMAddFunction(E->m, name, fty);
    fn_attr(E, f, "nounwind", 0);
    fn_attr(E, f, "willreturn", 0);
    fn_attr(E, f, "memory", 0); /* memory(none): libm without errno (glibc does not set it here) */
  }
  LLVMValueRef call = LLVMBuildCall2(E->b, fty, f, args, (unsigned)nargs, "");
  char list[512] = "";
  size_t at = 0;
  for (const char *isa = E->tg->isas; *isa; isa++) {
    int bits = *isa == 'b' ? 128 : *isa == 'd' ? 256 : 512, vf = bits / (t == KT_F64 ? 64 : 32);
    char vname[64];
    snprintf(vname, sizeof vname, "_ZGV%cN%d%s_%s", *isa, vf, nargs == 2 ? "vv" : "v", name);
    LLVMValueRef vf_fn = LLVMGetNamedFunction(E->m, vname);
    if (!vf_fn) {
      LLVMTypeRef vt = LLVMVectorType(ty, (unsigned)vf), vps[2] = {vt, vt};
      vf_fn = LLVMAddFunction(E->m, vname, LLVMFunctionType(vt, vps, (unsigned)nargs, 0));
      vec_push(&E->arena, E->used, vf_fn);
    }
    at += (size_t)snprintf(list + at, sizeof list - at, "%s%s(%s)", at ? "," : "", vname, vname);
  }
  if (at) {
    const char *key = "vector-function-abi-variant";
    LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                             LLVMCreateStringAttribute(E->cx, key, (unsigned)strlen(key), list, (unsigned)at));
  }
  return call;
}

/* ---- expressions ---------------------------------------------------------------------------- */

static LLVMValueRef emit(Em *E, int e);

static LLVMValueRef to_type(Em *E, LLVMValueRef v, KType from, KType to) {
  if (from == to) return v;
  LLVMTypeRef tt = T(E, to);
  if (from == KT_I32) return LLVMBuildSIToFP(E->b, v, tt, "");
  if (to == KT_I32) {
    LLVMTypeRef tys[2] = {E->i32, T(E, from)};
    return intrinsic(E, "llvm.fptosi.sat", tys, 2, &v, 1);
  }
  return from == KT_F32 ? LLVMBuildFPExt(E->b, v, tt, "") : LLVMBuildFPTrunc(E->b, v, tt, "");
}

static LLVMValueRef from_i64(Em *E, LLVMValueRef v, KType t) {
  return t == KT_I32 ? LLVMBuildTrunc(E->b, v, E->i32, "") : LLVMBuildSIToFP(E->b, v, T(E, t), "");
}

static LLVMValueRef offset_of(Em *E, const KAccess *a) {
  LLVMValueRef off = NULL;
  for (int ax = 0; ax < E->k->naxes; ax++) {
    if (a->st[ax] == KST_ZERO) continue;
    LLVMValueRef term = a->st[ax] == KST_ONE ? E->idx[ax] : LLVMBuildMul(E->b, E->idx[ax], E->dim[a->st[ax]], "");
    off = off ? LLVMBuildAdd(E->b, off, term, "") : term;
  }
  for (int t = 0; t < a->noff; t++) { /* a view's start: c * d * d */
    LLVMValueRef term = i64c(E, a->off[t].c);
    for (int j = 0; j < 2; j++)
      if (a->off[t].s[j] != KST_ONE) term = LLVMBuildMul(E->b, term, E->dim[a->off[t].s[j]], "");
    off = off ? LLVMBuildAdd(E->b, off, term, "") : term;
  }
  return off ? off : i64c(E, 0);
}

/* Scoped no-alias metadata (cpu.h: buffers do not overlap, except an output over an input read
 * at the same index, which gets a body copy of its own): one scope per buffer, every access
 * of buffer i in scope i and no-alias with the others. Without it LLVM's vectoriser checks at
 * run time that the ranges [begin, end) reaches in each buffer are apart, from bounds that
 * are conservative (a guarded window load counts elements before the buffer), and runs the
 * scalar loop where the check fails: results then depended on where buffers lay and on how
 * the outer range was split (libm's scalar and vector forms round differently). */
static void scope_lists(Em *E) {
  int n = E->k->bufs.n;
  LLVMMetadataRef dom_id = LLVMMDStringInContext2(E->cx, "mamc.buffers", 12);
  LLVMMetadataRef dom = LLVMMDNodeInContext2(E->cx, &dom_id, 1), sc[CG_MAX_BUFS], others[CG_MAX_BUFS];
  for (int i = 0; i < n; i++) {
    char name[24];
    int len = snprintf(name, sizeof name, "mamc.buffer.%d", i);
    LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(E->cx, name, (size_t)len), dom};
    sc[i] = LLVMMDNodeInContext2(E->cx, ops, 2);
  }
  for (int i = 0; i < n; i++) {
    int m = 0;
    for (int j = 0; j < n; j++)
      if (j != i) others[m++] = sc[j];
    E->scope[i] = LLVMMetadataAsValue(E->cx, LLVMMDNodeInContext2(E->cx, &sc[i], 1));
    E->noalias[i] = LLVMMetadataAsValue(E->cx, LLVMMDNodeInContext2(E->cx, others, (size_t)m));
  }
}

static void tag(Em *E, LLVMValueRef access, int buf) {
  if (!E->scoped) return;
  LLVMSetMetadata(access, LLVMGetMDKindIDInContext(E->cx, "alias.scope", 11), E->scope[buf]);
  LLVMSetMetadata(access, LLVMGetMDKindIDInContext(E->cx, "noalias", 7), E->noalias[buf]);
}

static LLVMValueRef address(Em *E, int access) {
  const KAccess *a = &E->k->acc.v[access];
  LLVMValueRef off = offset_of(E, a);
  const KBuf *b = &E->k->bufs.v[a->buf];
  return LLVMBuildGEP2(E->b, b->bf16 ? E->i16 : T(E, b->t), E->bufp[a->buf], &off, 1, "");
}

/* bf16 storage: widen bits to f32; round f32 to nearest even bf16 bits (NaN: quiet) */
static LLVMValueRef bf16_load(Em *E, LLVMValueRef addr, int buf) {
  LLVMValueRef h = LLVMBuildLoad2(E->b, E->i16, addr, "");
  LLVMSetAlignment(h, 2);
  tag(E, h, buf);
  LLVMValueRef u = LLVMBuildShl(E->b, LLVMBuildZExt(E->b, h, E->i32, ""), LLVMConstInt(E->i32, 16, 0), "");
  return LLVMBuildBitCast(E->b, u, E->f32, "");
}

static LLVMValueRef bf16_round(Em *E, LLVMValueRef v) {
  LLVMValueRef u = LLVMBuildBitCast(E->b, v, E->i32, ""), c16 = LLVMConstInt(E->i32, 16, 0);
  LLVMValueRef hi = LLVMBuildLShr(E->b, u, c16, "");
  LLVMValueRef odd = LLVMBuildAnd(E->b, hi, LLVMConstInt(E->i32, 1, 0), "");
  LLVMValueRef r = LLVMBuildAdd(E->b, LLVMBuildAdd(E->b, u, LLVMConstInt(E->i32, 0x7fff, 0), ""), odd, "");
  LLVMValueRef rounded = LLVMBuildLShr(E->b, r, c16, "");
  LLVMValueRef quiet = LLVMBuildOr(E->b, hi, LLVMConstInt(E->i32, 0x40, 0), "");
  LLVMValueRef nan = LLVMBuildFCmp(E->b, LLVMRealUNO, v, v, "");
  return LLVMBuildTrunc(E->b, LLVMBuildSelect(E->b, nan, quiet, rounded, ""), E->i16, "");
}

static LLVMValueRef cmp_to(Em *E, LLVMValueRef c, KType t) {
  return t == KT_I32 ? LLVMBuildZExt(E->b, c, E->i32, "") : LLVMBuildUIToFP(E->b, c, T(E, t), "");
}

static LLVMValueRef emit_op(Em *E, const KExpr *e) {
  LLVMValueRef a[3] = {NULL, NULL, NULL};
  int n = kop_info(e->op)->nargs;
  for (int i = 0; i < n; i++) a[i] = emit(E, e->a[i]);
  KType xt = E->k->e.v[e->a[0]].t; /* operand type (comparisons: differs from e->t) */
  int fl = xt != KT_I32;
  LLVMTypeRef ty = T(E, e->t);
  LLVMBuilderRef b = E->b;
  switch (e->op) {
  case KOP_NEG: return fl ? LLVMBuildFNeg(b, a[0], "") : LLVMBuildSub(b, LLVMConstInt(E->i32, 0, 0), a[0], "");
  case KOP_ABS: {
    if (fl) return intrinsic(E, "llvm.fabs", &ty, 1, a, 1);
    LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, a[0], LLVMConstInt(E->i32, 0, 0), "");
    return LLVMBuildSelect(b, neg, LLVMBuildSub(b, LLVMConstInt(E->i32, 0, 0), a[0], ""), a[0], "");
  }
  case KOP_SQRT: return intrinsic(E, "llvm.sqrt", &ty, 1, a, 1);
  case KOP_EXP:
  case KOP_LOG:
  case KOP_TANH:
  case KOP_SIN:
  case KOP_COS:
  case KOP_POW: return libm_call(E, kop_info(e->op)->libm[e->t == KT_F64], e->t, a, n);
  case KOP_ADD: return fl ? LLVMBuildFAdd(b, a[0], a[1], "") : LLVMBuildAdd(b, a[0], a[1], "");
  case KOP_SUB: return fl ? LLVMBuildFSub(b, a[0], a[1], "") : LLVMBuildSub(b, a[0], a[1], "");
  case KOP_MUL: return fl ? LLVMBuildFMul(b, a[0], a[1], "") : LLVMBuildMul(b, a[0], a[1], "");
  case KOP_DIV: {
    if (fl) return LLVMBuildFDiv(b, a[0], a[1], "");
    /* i32: in 64 bits (no INT_MIN / -1 overflow), a zero divisor gives 0 instead of a trap */
    LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, a[1], LLVMConstInt(E->i32, 0, 0), "");
    LLVMValueRef den = LLVMBuildSelect(b, zero, LLVMConstInt(E->i32, 1, 0), a[1], "");
    LLVMValueRef q = LLVMBuildSDiv(b, LLVMBuildSExt(b, a[0], E->i64, ""), LLVMBuildSExt(b, den, E->i64, ""), "");
    return LLVMBuildSelect(b, zero, LLVMConstInt(E->i32, 0, 0), LLVMBuildTrunc(b, q, E->i32, ""), "");
  }
  case KOP_MAX:
  case KOP_MIN: {
    int mx = e->op == KOP_MAX;
    if (!fl) return LLVMBuildSelect(b, LLVMBuildICmp(b, mx ? LLVMIntSGT : LLVMIntSLT, a[0], a[1], ""), a[0], a[1], "");
    LLVMValueRef pick = LLVMBuildSelect(b, LLVMBuildFCmp(b, mx ? LLVMRealOGT : LLVMRealOLT, a[0], a[1], ""), a[0], a[1], "");
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, a[0], a[1], ""), LLVMConstReal(ty, NAN), pick, "");
  }
  case KOP_EQ:
  case KOP_NE:
  case KOP_LT:
  case KOP_LE: {
    static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT, LLVMRealOLE};
    static const LLVMIntPredicate ip[] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT, LLVMIntSLE};
    int w = e->op - KOP_EQ;
    LLVMValueRef c = fl ? LLVMBuildFCmp(b, fp[w], a[0], a[1], "") : LLVMBuildICmp(b, ip[w], a[0], a[1], "");
    return cmp_to(E, c, e->t);
  }
  case KOP_SELECT: {
    LLVMValueRef c = fl ? LLVMBuildFCmp(b, LLVMRealUNE, a[0], LLVMConstReal(T(E, xt), 0), "")
                        : LLVMBuildICmp(b, LLVMIntNE, a[0], LLVMConstInt(E->i32, 0, 0), "");
    return LLVMBuildSelect(b, c, a[1], a[2], "");
  }
  case KOP_CAST: return to_type(E, a[0], xt, e->t);
  case KOP_COUNT: break;
  }
  return NULL;
}

/* runtime/rng.h, in IR: splitmix64's finalizer and rng_uniform(key, c) */
static LLVMValueRef mix(Em *E, LLVMValueRef z) {
  LLVMBuilderRef b = E->b;
  z = LLVMBuildAdd(b, z, LLVMConstInt(E->i64, 0x9e3779b97f4a7c15ull, 0), "");
  z = LLVMBuildMul(b, LLVMBuildXor(b, z, LLVMBuildLShr(b, z, LLVMConstInt(E->i64, 30, 0), ""), ""),
                   LLVMConstInt(E->i64, 0xbf58476d1ce4e5b9ull, 0), "");
  z = LLVMBuildMul(b, LLVMBuildXor(b, z, LLVMBuildLShr(b, z, LLVMConstInt(E->i64, 27, 0), ""), ""),
                   LLVMConstInt(E->i64, 0x94d049bb133111ebull, 0), "");
  return LLVMBuildXor(b, z, LLVMBuildLShr(b, z, LLVMConstInt(E->i64, 31, 0), ""), "");
}

static LLVMValueRef uniform(Em *E, const KRand *r) {
  LLVMValueRef c = i64c(E, 0);
  for (int j = 0; j < r->rank; j++) {
    if (j) c = LLVMBuildMul(E->b, c, E->dim[r->ext[j]], "");
    if (r->ax[j] >= 0) c = LLVMBuildAdd(E->b, c, E->idx[r->ax[j]], "");
  }
  LLVMValueRef z = mix(E, LLVMBuildXor(E->b, E->dim[r->key], mix(E, c), ""));
  LLVMValueRef m = LLVMBuildSIToFP(E->b, LLVMBuildLShr(E->b, z, LLVMConstInt(E->i64, 11, 0), ""), E->f64, "");
  return LLVMBuildFMul(E->b, m, LLVMConstReal(E->f64, 1.0 / 9007199254740992.0), "");
}

static int memo_ok(Em *E, int e) { return E->val[e] && E->vdepth[e] <= E->depth && E->vgen[e] == E->gen[E->vdepth[e]]; }

static LLVMValueRef emit(Em *E, int i) {
  if (memo_ok(E, i)) return E->val[i];
  const KExpr *e = &E->k->e.v[i];
  LLVMValueRef v = NULL;
  switch (e->kind) {
  case KE_LOAD: {
    LLVMValueRef addr = address(E, e->a[0]), g = NULL;
    if (e->a[1] >= 0) { /* guarded: where the guard is 0 read a zero slot instead (no branch) */
      g = LLVMBuildICmp(E->b, LLVMIntNE, emit(E, e->a[1]), LLVMConstInt(E->i32, 0, 0), "");
      addr = LLVMBuildSelect(E->b, g, addr, E->zero, "");
    }
    int buf = E->k->acc.v[e->a[0]].buf;
    if (E->k->bufs.v[buf].bf16) {
      v = bf16_load(E, addr, buf);
      break;
    }
    LLVMValueRef ld = LLVMBuildLoad2(E->b, T(E, e->t), addr, "");
    LLVMSetAlignment(ld, (unsigned)ktype_size(e->t));
    tag(E, ld, buf);
    v = ld;
    break;
  }
  case KE_CONST: v = e->t == KT_I32 ? LLVMConstInt(E->i32, (unsigned long long)(int64_t)e->v, 1) : LLVMConstReal(T(E, e->t), e->v); break;
  case KE_IOTA: v = from_i64(E, E->idx[e->a[0]], e->t); break;
  case KE_COUNT: {
    LLVMValueRef c = i64c(E, 1);
    for (int ax = E->k->naxes - E->k->nred; ax < E->k->naxes; ax++) c = LLVMBuildMul(E->b, c, E->dim[E->k->ext[ax]], "");
    v = from_i64(E, c, e->t);
    break;
  }
  case KE_ACC: v = LLVMBuildLoad2(E->b, T(E, e->t), E->accslot[e->a[0]], ""); break;
  case KE_DIM: v = from_i64(E, E->dim[e->a[0]], e->t); break;
  case KE_RAND: v = uniform(E, &E->k->rands.v[e->a[0]]); break;
  case KE_OP: v = emit_op(E, e); break;
  }
  E->val[i] = v;
  E->vdepth[i] = E->depth;
  E->vgen[i] = E->gen[E->depth];
  return v;
}

/* Emit now the values under root that do not vary along `inner` axes and are computable
 * after `level` passes, so that the coming loop nest reuses them. */
static void hoist(Em *E, int root, unsigned inner, int level) {
  if (memo_ok(E, root)) return;
  if (!(E->axes[root] & inner) && E->level[root] <= level) {
    emit(E, root);
    return;
  }
  const KExpr *e = &E->k->e.v[root];
  if (e->kind == KE_OP)
    for (int j = 0; j < kop_info(e->op)->nargs; j++) hoist(E, e->a[j], inner, level);
}

/* ---- loops ---------------------------------------------------------------------------------- */

typedef struct Loop {
  LLVMBasicBlockRef head, exit;
  LLVMValueRef slot, iv, hi;
} Loop;

static LLVMValueRef entry_alloca(Em *E, LLVMTypeRef ty) {
  LLVMBuilderRef ab = LLVMCreateBuilderInContext(E->cx);
  LLVMPositionBuilderAtEnd(ab, E->entry);
  LLVMValueRef a = LLVMBuildAlloca(ab, ty, "");
  LLVMDisposeBuilder(ab);
  return a;
}

static LLVMValueRef loop_begin(Em *E, Loop *L, LLVMValueRef lo, LLVMValueRef hi) {
  L->slot = entry_alloca(E, E->i64);
  L->hi = hi;
  LLVMBuildStore(E->b, lo, L->slot);
  L->head = LLVMAppendBasicBlockInContext(E->cx, E->fn, "loop");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(E->cx, E->fn, "body");
  L->exit = LLVMAppendBasicBlockInContext(E->cx, E->fn, "done");
  LLVMBuildBr(E->b, L->head);
  LLVMPositionBuilderAtEnd(E->b, L->head);
  L->iv = LLVMBuildLoad2(E->b, E->i64, L->slot, "");
  LLVMBuildCondBr(E->b, LLVMBuildICmp(E->b, LLVMIntSLT, L->iv, hi, ""), body, L->exit);
  LLVMPositionBuilderAtEnd(E->b, body);
  E->depth++;
  E->gen[E->depth]++;
  return L->iv;
}

/* step: NULL for +1; vectorize: mark the loop llvm.loop.vectorize.enable (unit strides) */
static void loop_end(Em *E, Loop *L, LLVMValueRef step, int vectorize) {
  LLVMValueRef next = LLVMBuildAdd(E->b, L->iv, step ? step : i64c(E, 1), "");
  LLVMBuildStore(E->b, next, L->slot);
  LLVMValueRef br = LLVMBuildBr(E->b, L->head);
  if (vectorize) {
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(E->cx, NULL, 0);
    LLVMMetadataRef kv[2] = {LLVMMDStringInContext2(E->cx, "llvm.loop.vectorize.enable", 26),
                             LLVMValueAsMetadata(LLVMConstInt(E->i1, 1, 0))};
    LLVMMetadataRef ops[2] = {tmp, LLVMMDNodeInContext2(E->cx, kv, 2)};
    LLVMMetadataRef id = LLVMMDNodeInContext2(E->cx, ops, 2);
    LLVMMetadataReplaceAllUsesWith(tmp, id);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(E->cx, "llvm.loop", 9), LLVMMetadataAsValue(E->cx, id));
  }
  LLVMPositionBuilderAtEnd(E->b, L->exit);
  E->depth--;
}

/* indices of axes [0, n) from a flat row-major index over them */
static void split_index(Em *E, LLVMValueRef flat, int n) {
  for (int ax = n - 1; ax > 0; ax--) {
    LLVMValueRef d = E->dim[E->k->ext[ax]];
    E->idx[ax] = LLVMBuildURem(E->b, flat, d, "");
    flat = LLVMBuildUDiv(E->b, flat, d, "");
  }
  if (n > 0) E->idx[0] = flat;
}

/* the innermost axis is walked with unit or zero strides by every access, and no load is
 * guarded (a guarded load reads through a select of addresses: forcing the vectoriser there
 * only earns a "loop not vectorized" warning; LLVM may still vectorise it on its own) */
static int unit_inner(Em *E) {
  int in = E->k->naxes - 1;
  for (int i = 0; i < E->k->acc.n; i++)
    if (E->k->acc.v[i].st[in] != KST_ZERO && E->k->acc.v[i].st[in] != KST_ONE) return 0;
  for (int i = 0; i < E->k->e.n; i++)
    if (E->k->e.v[i].kind == KE_LOAD && E->k->e.v[i].a[1] >= 0) return 0;
  return 1;
}

/* the stores of one kind (row or element): every value is computed (every operand loaded)
 * before the first store, so an output may share its memory with an operand read at the
 * same index (ir/group.h's contract for in-place buffers) */
static void stores(Em *E, int row) {
  const Kir *k = E->k;
  for (int s = 0; s < k->stores.n; s++)
    if (k->stores.v[s].row == row) emit(E, k->stores.v[s].e);
  for (int s = 0; s < k->stores.n; s++) {
    const KStore *st = &k->stores.v[s];
    if (st->row != row) continue;
    LLVMValueRef v = emit(E, st->e);
    const KBuf *b = &k->bufs.v[k->acc.v[st->access].buf];
    LLVMValueRef in = LLVMBuildStore(E->b, b->bf16 ? bf16_round(E, v) : v, address(E, st->access));
    LLVMSetAlignment(in, b->bf16 ? 2u : (unsigned)ktype_size(b->t));
    tag(E, in, k->acc.v[st->access].buf);
  }
}

/* ---- kernels --------------------------------------------------------------------------------- */

static void ew_body(Em *E, LLVMValueRef begin, LLVMValueRef end) {
  const Kir *k = E->k;
  int in = k->naxes - 1;
  unsigned inner = 1u << in;
  LLVMValueRef lo = begin, hi = end;
  Loop seg = {0};
  if (k->naxes > 1) { /* runs of the outer range within one row of the innermost axis */
    LLVMValueRef i = loop_begin(E, &seg, begin, end), d = E->dim[k->ext[in]];
    LLVMValueRef row = LLVMBuildUDiv(E->b, i, d, "");
    LLVMValueRef c0 = LLVMBuildSub(E->b, i, LLVMBuildMul(E->b, row, d, ""), "");
    LLVMValueRef left = LLVMBuildSub(E->b, end, i, ""), rest = LLVMBuildSub(E->b, d, c0, "");
    LLVMValueRef n = LLVMBuildSelect(E->b, LLVMBuildICmp(E->b, LLVMIntSLT, rest, left, ""), rest, left, "");
    split_index(E, row, in);
    for (int s = 0; s < k->stores.n; s++) hoist(E, k->stores.v[s].e, inner, 0);
    lo = c0;
    hi = LLVMBuildAdd(E->b, c0, n, "");
    Loop L;
    E->idx[in] = loop_begin(E, &L, lo, hi);
    stores(E, 0);
    loop_end(E, &L, NULL, unit_inner(E));
    loop_end(E, &seg, n, 0);
    return;
  }
  Loop L;
  E->idx[0] = loop_begin(E, &L, lo, hi);
  stores(E, 0);
  loop_end(E, &L, NULL, unit_inner(E));
}

/* loops over the reduced axes; body 0: update the accumulators of `pass`, 1: element stores */
static void red_nest(Em *E, int pass, int body) {
  const Kir *k = E->k;
  int nk = k->naxes - k->nred;
  unsigned red = 0;
  for (int ax = nk; ax < k->naxes; ax++) red |= 1u << ax;
  for (int i = 0; i < k->accs.n && !body; i++)
    if (k->accs.v[i].level == pass) hoist(E, k->accs.v[i].e, red, pass);
  for (int s = 0; s < k->stores.n && body; s++)
    if (!k->stores.v[s].row) hoist(E, k->stores.v[s].e, red, k->npasses);
  Loop L[KIR_MAX_AXES];
  for (int ax = nk; ax < k->naxes; ax++) E->idx[ax] = loop_begin(E, &L[ax], i64c(E, 0), E->dim[k->ext[ax]]);
  for (int i = 0; i < k->accs.n && !body; i++) {
    const KAcc *a = &k->accs.v[i];
    if (a->level != pass) continue;
    LLVMValueRef v = emit(E, a->e), old = LLVMBuildLoad2(E->b, T(E, a->t), E->accslot[i], ""), nv;
    LLVMTypeRef ty = T(E, a->t);
    LLVMValueRef args[2] = {old, v};
    if (a->op == KACC_SUM && a->t != KT_I32) {
      nv = LLVMBuildFAdd(E->b, old, v, "");
      LLVMSetFastMathFlags(nv, LLVMFastMathAllowReassoc);
    } else if (a->op == KACC_SUM) {
      nv = LLVMBuildAdd(E->b, old, v, "");
    } else {
      nv = intrinsic(E, a->t == KT_I32 ? "llvm.smax" : "llvm.maximum", &ty, 1, args, 2);
    }
    LLVMBuildStore(E->b, nv, E->accslot[i]);
  }
  if (body) stores(E, 0);
  for (int ax = k->naxes - 1; ax >= nk; ax--) loop_end(E, &L[ax], NULL, ax == k->naxes - 1 && unit_inner(E));
}

static void row_body(Em *E, LLVMValueRef begin, LLVMValueRef end) {
  const Kir *k = E->k;
  int nk = k->naxes - k->nred;
  Loop R;
  LLVMValueRef row = loop_begin(E, &R, begin, end);
  split_index(E, row, nk);
  for (int p = 0; p < k->npasses; p++) {
    for (int i = 0; i < k->accs.n; i++) {
      const KAcc *a = &k->accs.v[i];
      if (a->level != p) continue;
      LLVMValueRef init = a->t == KT_I32 ? LLVMConstInt(E->i32, a->op == KACC_MAX ? 0x80000000ull : 0, 0)
                                         : LLVMConstReal(T(E, a->t), a->op == KACC_MAX ? -INFINITY : 0.0);
      LLVMBuildStore(E->b, init, E->accslot[i]);
    }
    red_nest(E, p, 0);
  }
  stores(E, 1);
  int elem = 0;
  for (int s = 0; s < k->stores.n; s++) elem |= !k->stores.v[s].row;
  if (elem) red_nest(E, k->npasses, 1);
  loop_end(E, &R, NULL, 0);
}

/* one copy of the kernel body from the current block, ending in ret */
static void body(Em *E) {
  memset(E->val, 0, sizeof *E->val * (size_t)(E->k->e.n ? E->k->e.n : 1)); /* no values across copies */
  if (E->k->row)
    row_body(E, LLVMGetParam(E->fn, 2), LLVMGetParam(E->fn, 3));
  else
    ew_body(E, LLVMGetParam(E->fn, 2), LLVMGetParam(E->fn, 3));
  LLVMBuildRetVoid(E->b);
}

/* Inputs the kernel's only output could share memory with (ir/group.h: an operand of the
 * same type read at the same index): same element type, and every access of the input
 * has the output's strides. Returns the output buffer (or -1) and fills cand. */
static int in_place_scan(const Kir *k, int *cand, int max, int *n) {
  int out = -1, st = -1;
  *n = 0;
  for (int i = 0; i < k->bufs.n; i++)
    if (k->bufs.v[i].out) {
      if (out >= 0) return -1;
      out = i;
    }
  for (int s = 0; s < k->stores.n && out >= 0; s++)
    if (k->acc.v[k->stores.v[s].access].buf == out) st = k->stores.v[s].access;
  if (out < 0 || st < 0) return -1;
  for (int i = 0; i < k->bufs.n && *n < max; i++) {
    int same = !k->bufs.v[i].out && k->bufs.v[i].t == k->bufs.v[out].t && k->bufs.v[i].bf16 == k->bufs.v[out].bf16,
        used = 0;
    for (int a = 0; a < k->acc.n && same; a++)
      if (k->acc.v[a].buf == i) {
        used = 1;
        same = memcmp(k->acc.v[a].st, k->acc.v[st].st, sizeof k->acc.v[a].st) == 0 && !k->acc.v[a].noff;
      }
    if (same && used) cand[(*n)++] = i;
  }
  return out;
}

LLVMModuleRef cg_llvm_module(LLVMContextRef ctx, const Kir *k, const char *name, const CgLlvmTarget *tg,
                             char *err, size_t errlen) {
  Em E;
  memset(&E, 0, sizeof E);
  arena_init(&E.arena);
  E.cx = ctx;
  E.k = k;
  E.tg = tg;
  E.m = LLVMModuleCreateWithNameInContext(name, ctx);
  if (tg->triple) LLVMSetTarget(E.m, tg->triple);
  if (tg->datalayout) LLVMSetDataLayout(E.m, tg->datalayout);
  E.i1 = LLVMInt1TypeInContext(ctx);
  E.i16 = LLVMInt16TypeInContext(ctx);
  E.i32 = LLVMInt32TypeInContext(ctx);
  E.i64 = LLVMInt64TypeInContext(ctx);
  E.f32 = LLVMFloatTypeInContext(ctx);
  E.f64 = LLVMDoubleTypeInContext(ctx);
  E.ptr = LLVMPointerTypeInContext(ctx, 0);
  int ne = k->e.n ? k->e.n : 1, na = k->accs.n ? k->accs.n : 1;
  E.val = ARENA_ARRAY(&E.arena, LLVMValueRef, ne);
  E.vdepth = ARENA_ARRAY(&E.arena, int, ne);
  E.vgen = ARENA_ARRAY(&E.arena, unsigned, ne);
  E.axes = ARENA_ARRAY(&E.arena, unsigned, ne);
  E.level = ARENA_ARRAY(&E.arena, int, ne);
  E.accslot = ARENA_ARRAY(&E.arena, LLVMValueRef, na);
  if (!E.val || !E.vdepth || !E.vgen || !E.axes || !E.level || !E.accslot) {
    snprintf(err, errlen, "out of memory");
    LLVMDisposeModule(E.m);
    arena_free(&E.arena);
    return NULL;
  }
  kir_analyze(k, E.axes, E.level);
  LLVMTypeRef ps[4] = {E.ptr, E.ptr, E.i64, E.i64};
  E.fn = LLVMAddFunction(E.m, name, LLVMFunctionType(LLVMVoidTypeInContext(ctx), ps, 4, 0));
  fn_attr(&E, E.fn, "nounwind", 0);
  for (unsigned p = 1; p <= 2; p++) { /* bufs and dims: read-only arrays nothing else aliases */
    const char *as[] = {"noalias", "nocapture", "readonly"};
    for (int i = 0; i < 3; i++)
      LLVMAddAttributeAtIndex(E.fn, p, LLVMCreateEnumAttribute(ctx, LLVMGetEnumAttributeKindForName(as[i], strlen(as[i])), 0));
  }
  E.b = LLVMCreateBuilderInContext(ctx);
  E.entry = LLVMAppendBasicBlockInContext(ctx, E.fn, "entry");
  LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(ctx, E.fn, "start");
  LLVMPositionBuilderAtEnd(E.b, start);
  LLVMValueRef bufs = LLVMGetParam(E.fn, 0), dims = LLVMGetParam(E.fn, 1);
  for (int i = 0; i < k->bufs.n; i++) {
    LLVMValueRef ix = i64c(&E, i);
    E.bufp[i] = LLVMBuildLoad2(E.b, E.ptr, LLVMBuildGEP2(E.b, E.ptr, bufs, &ix, 1, ""), "");
  }
  for (int i = 0; i < k->dims.n; i++) {
    LLVMValueRef ix = i64c(&E, i);
    E.dim[i] = LLVMBuildLoad2(E.b, E.i64, LLVMBuildGEP2(E.b, E.i64, dims, &ix, 1, ""), "");
  }
  for (int i = 0; i < k->accs.n; i++) E.accslot[i] = entry_alloca(&E, T(&E, k->accs.v[i].t));
  E.zero = entry_alloca(&E, E.i64);
  LLVMBuildStore(E.b, i64c(&E, 0), E.zero);
  /* in-place versions: when the single output's memory is that of an input read at the same
   * index, a copy of the body addresses both through one pointer, so the vectoriser sees
   * a same-index dependence instead of a run-time overlap that sends it to the scalar loop */
  enum { MAX_COPIES = 4 }; /* in-place copies; one more candidate found means "and more" */
  int cand[MAX_COPIES + 1], ncand = 0, out = in_place_scan(k, cand, MAX_COPIES + 1, &ncand);
  for (int c = 0; out >= 0 && c < ncand && c < MAX_COPIES; c++) {
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(ctx, E.fn, "inplace"),
                      no = LLVMAppendBasicBlockInContext(ctx, E.fn, "next");
    LLVMBuildCondBr(E.b, LLVMBuildICmp(E.b, LLVMIntEQ, E.bufp[out], E.bufp[cand[c]], ""), yes, no);
    LLVMPositionBuilderAtEnd(E.b, yes);
    LLVMValueRef own = E.bufp[out];
    E.bufp[out] = E.bufp[cand[c]];
    body(&E);
    E.bufp[out] = own;
    LLVMPositionBuilderAtEnd(E.b, no);
  }
  /* the disjoint body, its accesses tagged no-alias (scope_lists): with one output every input
   * it may share is taken by a copy above; with several, a body that claims nothing runs
   * where an output is an input's memory (the only overlap cpu.h allows) */
  if (out < 0 || ncand > MAX_COPIES) {
    LLVMValueRef same = LLVMConstInt(E.i1, 0, 0);
    for (int o = 0; o < k->bufs.n; o++)
      for (int i = 0; i < k->bufs.n && k->bufs.v[o].out; i++)
        if (!k->bufs.v[i].out)
          same = LLVMBuildOr(E.b, same, LLVMBuildICmp(E.b, LLVMIntEQ, E.bufp[o], E.bufp[i], ""), "");
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(ctx, E.fn, "shared"),
                      no = LLVMAppendBasicBlockInContext(ctx, E.fn, "apart");
    LLVMBuildCondBr(E.b, same, yes, no);
    LLVMPositionBuilderAtEnd(E.b, yes);
    body(&E);
    LLVMPositionBuilderAtEnd(E.b, no);
  }
  scope_lists(&E);
  E.scoped = 1;
  body(&E);
  E.scoped = 0;
  LLVMPositionBuilderAtEnd(E.b, E.entry);
  LLVMBuildBr(E.b, start);
  if (E.used.n) { /* keep the vector variants declared until the vectoriser has run */
    LLVMTypeRef at = LLVMArrayType2(E.ptr, (uint64_t)E.used.n);
    LLVMValueRef g = LLVMAddGlobal(E.m, at, "llvm.compiler.used");
    LLVMSetLinkage(g, LLVMAppendingLinkage);
    LLVMSetSection(g, "llvm.metadata");
    LLVMSetInitializer(g, LLVMConstArray2(E.ptr, E.used.v, (uint64_t)E.used.n));
  }
  LLVMDisposeBuilder(E.b);
  arena_free(&E.arena);
  char *msg = NULL;
  if (LLVMVerifyModule(E.m, LLVMReturnStatusAction, &msg)) {
    snprintf(err, errlen, "internal: invalid LLVM IR for %s: %s", name, msg ? msg : "?");
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(E.m);
    return NULL;
  }
  LLVMDisposeMessage(msg);
  return E.m;
}
#else
typedef int cg_llvm_not_built; /* MAMC_WITH_LLVM=OFF: see jit.c */
#endif
