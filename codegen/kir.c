/* kir.c — the kernel IR: the primitive-op table, builders that deduplicate structurally
 * (so a value used twice in a group is loaded and computed once), the two analyses the
 * printers need (which axes a value varies along, which pass can compute it), and the text
 * form used by golden files and as the compile cache key. See kir.h.
 */
#include "kir.h"

#include <math.h>

static const KOpInfo kops[KOP_COUNT] = {
#define X(ID, NAME, N, C, F32, F64) [KOP_##ID] = {NAME, N, C, {F32, F64}},
    KIR_OPS(X)
#undef X
};

const KOpInfo *kop_info(KOp op) { return &kops[op]; }

const char *ktype_name(KType t) { return t == KT_F32 ? "f32" : t == KT_F64 ? "f64" : "i32"; }
const char *ktype_c(KType t) { return t == KT_F32 ? "float" : t == KT_F64 ? "double" : "int"; }
int ktype_size(KType t) { return t == KT_F64 ? 8 : 4; }

void kir_init(Kir *k) {
  memset(k, 0, sizeof *k);
  arena_init(&k->arena);
}

void kir_free(Kir *k) {
  if (!k) return;
  arena_free(&k->arena);
  memset(k, 0, sizeof *k);
}

/* ---- builders ------------------------------------------------------------------------------ */

int kir_dim(Kir *k, KDim d) {
  if (d.buf != KD_SYM) d.sym = dim_const(0);
  if (d.buf < 0) d.a0 = d.a1 = 0;
  if (d.buf != KD_RNG_KEY) d.seed = 0;
  for (int i = 0; i < k->dims.n; i++) {
    const KDim *o = &k->dims.v[i];
    if (o->buf == d.buf && o->a0 == d.a0 && o->a1 == d.a1 && dim_eq(o->sym, d.sym) && o->seed == d.seed) return i;
  }
  vec_push(&k->arena, k->dims, d);
  return k->dims.n - 1;
}

int kir_access(Kir *k, const KAccess *a) {
  KAccess c = *a; /* canonical: unused strides 0, unused offset terms zeros */
  for (int ax = k->naxes; ax < KIR_MAX_AXES; ax++) c.st[ax] = KST_ZERO;
  for (int t = c.noff; t < KIR_MAX_OFF; t++) c.off[t] = (KOff){0, {0, 0}};
  for (int i = 0; i < k->acc.n; i++) {
    const KAccess *o = &k->acc.v[i];
    if (o->buf == c.buf && memcmp(o->st, c.st, sizeof(int) * (size_t)k->naxes) == 0 && o->noff == c.noff &&
        memcmp(o->off, c.off, sizeof c.off) == 0)
      return i;
  }
  vec_push(&k->arena, k->acc, c);
  return k->acc.n - 1;
}

static int same_expr(const KExpr *a, const KExpr *b) {
  if (a->kind != b->kind || a->t != b->t) return 0;
  switch (a->kind) {
  case KE_CONST: return memcmp(&a->v, &b->v, sizeof a->v) == 0; /* bitwise: -0 != 0, NaN == NaN */
  case KE_OP: return a->op == b->op && a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2];
  case KE_COUNT: return 1;
  case KE_LOAD: return a->a[0] == b->a[0] && a->a[1] == b->a[1];
  default: return a->a[0] == b->a[0];
  }
}

int kir_expr(Kir *k, KExpr e) {
  if (e.kind != KE_OP) e.op = 0;
  if (e.kind != KE_CONST) e.v = 0;
  for (int i = 1; i < 3; i++)
    if (e.kind != KE_OP && !(e.kind == KE_LOAD && i == 1)) e.a[i] = -1;
  if (e.kind == KE_CONST || e.kind == KE_COUNT) e.a[0] = -1;
  e.level = e.kind == KE_ACC ? k->accs.v[e.a[0]].level + 1 : 0;
  for (int j = 0; e.kind == KE_OP && j < kop_info(e.op)->nargs; j++)
    if (k->e.v[e.a[j]].level > e.level) e.level = k->e.v[e.a[j]].level;
  if (e.kind == KE_LOAD && e.a[1] >= 0) e.level = k->e.v[e.a[1]].level;
  for (int i = 0; i < k->e.n; i++)
    if (same_expr(&k->e.v[i], &e)) return i;
  vec_push(&k->arena, k->e, e);
  return k->e.n - 1;
}

int kir_const(Kir *k, KType t, double v) {
  if (t == KT_F32) v = (double)(float)v;
  if (t == KT_I32) v = trunc(v);
  return kir_expr(k, (KExpr){.kind = KE_CONST, .t = t, .v = v, .a = {-1, -1, -1}});
}

int kir_rand(Kir *k, const KRand *r) {
  KRand c;
  memset(&c, 0, sizeof c); /* canonical: unused axes -1, so entries compare with memcmp */
  c.key = r->key;
  c.rank = r->rank;
  for (int j = 0; j < KIR_MAX_AXES; j++) {
    c.ax[j] = j < r->rank ? r->ax[j] : -1;
    c.ext[j] = j < r->rank ? r->ext[j] : -1;
  }
  int idx = -1;
  for (int i = 0; i < k->rands.n && idx < 0; i++)
    if (memcmp(&k->rands.v[i], &c, sizeof c) == 0) idx = i;
  if (idx < 0) {
    vec_push(&k->arena, k->rands, c);
    idx = k->rands.n - 1;
  }
  return kir_expr(k, (KExpr){.kind = KE_RAND, .t = KT_F64, .a = {idx, -1, -1}});
}

int kir_op(Kir *k, KOp op, KType t, int a, int b, int c) {
  return kir_expr(k, (KExpr){.kind = KE_OP, .t = t, .op = op, .a = {a, b, c}});
}

int kir_columns(const Kir *k) {
  int nk = k->naxes - k->nred, kept_inner = 0;
  if (!k->row || k->npasses != 1 || nk < 1 || k->nred < 1) return 0;
  for (int s = 0; s < k->stores.n; s++)
    if (!k->stores.v[s].row) return 0;
  for (int a = 0; a < k->acc.n; a++) {
    if (k->acc.v[a].st[k->naxes - 1] == KST_ONE) return 0; /* contiguous along a row: a warp per row */
    if (k->acc.v[a].st[nk - 1] == KST_ONE) kept_inner = 1;
  }
  return kept_inner;
}

void kir_analyze(const Kir *k, unsigned *axes, int *level) {
  for (int i = 0; i < k->e.n; i++) {
    const KExpr *e = &k->e.v[i];
    unsigned m = 0;
    switch (e->kind) {
    case KE_LOAD: {
      const KAccess *a = &k->acc.v[e->a[0]];
      for (int ax = 0; ax < k->naxes; ax++)
        if (a->st[ax] != KST_ZERO) m |= 1u << ax;
      if (e->a[1] >= 0) m |= axes[e->a[1]];
      break;
    }
    case KE_IOTA: m = 1u << e->a[0]; break;
    case KE_RAND:
      for (int j = 0; j < k->rands.v[e->a[0]].rank; j++)
        if (k->rands.v[e->a[0]].ax[j] >= 0) m |= 1u << k->rands.v[e->a[0]].ax[j];
      break;
    case KE_OP:
      for (int j = 0; j < kop_info(e->op)->nargs; j++) m |= axes[e->a[j]];
      break;
    default: break;
    }
    axes[i] = m;
    level[i] = e->level;
  }
}

int kir_acc(Kir *k, KAccOp op, int e) {
  KAcc a = {op, k->e.v[e].t, e, k->e.v[e].level};
  int idx = -1;
  for (int i = 0; i < k->accs.n && idx < 0; i++)
    if (k->accs.v[i].op == a.op && k->accs.v[i].e == a.e) idx = i;
  if (idx < 0) {
    vec_push(&k->arena, k->accs, a);
    idx = k->accs.n - 1;
    if (a.level + 1 > k->npasses) k->npasses = a.level + 1;
  }
  return kir_expr(k, (KExpr){.kind = KE_ACC, .t = a.t, .a = {idx, -1, -1}});
}

/* ---- text ---------------------------------------------------------------------------------- */

static void print_stride(StrBuf *b, int st) {
  if (st == KST_ZERO)
    sb_puts(b, "0");
  else if (st == KST_ONE)
    sb_puts(b, "1");
  else
    sb_printf(b, "d%d", st);
}

static void print_const(StrBuf *b, KType t, double v) {
  if (isnan(v))
    sb_puts(b, "nan");
  else if (isinf(v))
    sb_puts(b, v < 0 ? "-inf" : "inf");
  else if (t == KT_I32)
    sb_printf(b, "%lld", (long long)v);
  else
    sb_printf(b, "%.17g", v);
}

static const char *axis_name(const Kir *k, int ax, char *buf) {
  int kept = k->naxes - (k->row ? k->nred : 0);
  if (ax < kept)
    snprintf(buf, 8, "i%d", ax);
  else
    snprintf(buf, 8, "r%d", ax - kept);
  return buf;
}

void kir_print(StrBuf *b, const Kir *k, int comments) {
  char an[8];
  sb_printf(b, "kernel %s axes %d", k->row ? "row" : "elementwise", k->naxes);
  if (k->row) sb_printf(b, " reduce %d passes %d", k->nred, k->npasses);
  sb_putc(b, '\n');
  for (int i = 0; i < k->bufs.n; i++) {
    const KBuf *f = &k->bufs.v[i];
    sb_printf(b, "  buf b%d %s %s rank %d", i, f->out ? "out" : "in", f->bf16 ? "bf16" : ktype_name(f->t), f->type.rank);
    if (comments) sb_printf(b, "  ; %%%d", f->node);
    sb_putc(b, '\n');
  }
  for (int i = 0; i < k->dims.n; i++) {
    const KDim *d = &k->dims.v[i];
    Dim s = d->sym;
    if (d->buf >= 0)
      sb_printf(b, "  dim d%d = b%d.shape[%d:%d]\n", i, d->buf, d->a0, d->a1);
    else if (d->buf == KD_RNG_KEY)
      sb_printf(b, "  dim d%d = dropout key (seed %lld)\n", i, (long long)d->seed);
    else if (d->buf == KD_TRAINING)
      sb_printf(b, "  dim d%d = training\n", i);
    else if (dim_is_const(s))
      sb_printf(b, "  dim d%d = %lld\n", i, (long long)s.add);
    else
      sb_printf(b, "  dim d%d = %lld*sym%d%+lld\n", i, (long long)s.mul, s.sym, (long long)s.add);
  }
  for (int ax = 0; ax < k->naxes; ax++)
    sb_printf(b, "  axis %s < d%d\n", axis_name(k, ax, an), k->ext[ax]);
  for (int i = 0; i < k->acc.n; i++) {
    sb_printf(b, "  access x%d = b%d[", i, k->acc.v[i].buf);
    for (int ax = 0; ax < k->naxes; ax++) {
      if (ax) sb_puts(b, ", ");
      print_stride(b, k->acc.v[i].st[ax]);
    }
    sb_puts(b, "]");
    for (int t = 0; t < k->acc.v[i].noff; t++) {
      const KOff *o = &k->acc.v[i].off[t];
      sb_printf(b, " %+lld", (long long)o->c);
      for (int f = 0; f < 2; f++)
        if (o->s[f] != KST_ONE) sb_printf(b, "*d%d", o->s[f]);
    }
    sb_putc(b, '\n');
  }
  for (int i = 0; i < k->e.n; i++) {
    const KExpr *e = &k->e.v[i];
    if (e->kind == KE_ACC) {
      const KAcc *a = &k->accs.v[e->a[0]];
      sb_printf(b, "  a%d = reduce %s e%d : %s  (pass %d)\n", e->a[0], a->op == KACC_SUM ? "sum" : "max", a->e,
                ktype_name(a->t), a->level);
    }
    sb_printf(b, "  e%d = ", i);
    switch (e->kind) {
    case KE_LOAD:
      sb_printf(b, "load x%d", e->a[0]);
      if (e->a[1] >= 0) sb_printf(b, " if e%d", e->a[1]);
      break;
    case KE_CONST:
      sb_puts(b, "const ");
      print_const(b, e->t, e->v);
      break;
    case KE_IOTA: sb_printf(b, "iota %s", axis_name(k, e->a[0], an)); break;
    case KE_COUNT: sb_puts(b, "count"); break;
    case KE_ACC: sb_printf(b, "acc a%d", e->a[0]); break;
    case KE_DIM: sb_printf(b, "dim d%d", e->a[0]); break;
    case KE_RAND: {
      const KRand *r = &k->rands.v[e->a[0]];
      sb_printf(b, "uniform key d%d index [", r->key);
      for (int j = 0; j < r->rank; j++) {
        sb_puts(b, j ? ", " : "");
        if (r->ax[j] >= 0)
          sb_printf(b, "%s < d%d", axis_name(k, r->ax[j], an), r->ext[j]);
        else
          sb_puts(b, "0");
      }
      sb_puts(b, "]");
      break;
    }
    case KE_OP:
      sb_puts(b, kop_info(e->op)->name);
      for (int j = 0; j < kop_info(e->op)->nargs; j++) sb_printf(b, "%se%d", j ? ", " : " ", e->a[j]);
      break;
    }
    sb_printf(b, " : %s\n", ktype_name(e->t));
  }
  for (int i = 0; i < k->stores.n; i++)
    sb_printf(b, "  %s x%d = e%d\n", k->stores.v[i].row ? "store.row" : "store", k->stores.v[i].access,
              k->stores.v[i].e);
}

void kir_name(const Kir *k, char *buf, size_t len) {
  StrBuf b;
  sb_init(&b);
  kir_print(&b, k, 0);
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
  for (size_t i = 0; i < b.len; i++) h = (h ^ (unsigned char)b.s[i]) * 0x100000001b3ull;
  sb_free(&b);
  snprintf(buf, len, "k_%016llx", (unsigned long long)h);
}
