/* node.c — interp_node: runs one IR node. Evaluates the node's and its operands' types
 * under the symbol values, checks each operand against its declared type, converts float
 * operands to cx->fdt, allocates the result, dispatches to the op's kernel through a table
 * generated from ops.def, and rounds bf16/f16 results through their storage format.
 * Also the small helpers every kernel shares (kernels.h).
 */
#include <stdlib.h>

#include "kernels.h"

typedef int (*Kernel)(Kern *k);

static const Kernel kernels[OP_COUNT] = {
#define OP(ID, ...) [OP_##ID] = interp_##ID,
#include "ops.def"
};

/* ---- helpers shared by the kernels ------------------------------------------------------ */

int kfail(Kern *k, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->cx->err, sizeof k->cx->err, fmt, ap);
  va_end(ap);
  return 0;
}

void kstrides(const Tensor *t, int64_t *st) {
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    st[i] = s;
    s *= t->shape[i];
  }
}

int kbcast_strides(const Tensor *x, int r, const int64_t *shape, int64_t *st) {
  if (x->rank > r) return 0;
  int64_t s = 1;
  for (int i = r - 1; i >= 0; i--) {
    int xi = i - (r - x->rank);
    if (xi < 0) {
      st[i] = 0;
      continue;
    }
    int64_t d = x->shape[xi];
    if (d == shape[i])
      st[i] = d == 1 ? 0 : s;
    else if (d == 1)
      st[i] = 0;
    else
      return 0;
    s *= d;
  }
  return 1;
}

int kaxis(Kern *k, int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return kfail(k, "axis %lld out of range for rank %d", (long long)axis, rank);
  *out = (int)a;
  return 1;
}

char *kshape(char *buf, size_t len, const Tensor *t) { return rt_shape_str(buf, len, t->rank, t->shape); }

int kneed_float(Kern *k, int i) {
  if (!is_int(k->in[i])) return 1;
  return kfail(k, "needs a float operand, operand %d is i32", i);
}

/* ---- interp_node ------------------------------------------------------------------------- */

static void type_text(char *buf, size_t len, const IrProgram *p, const IrType *t) {
  StrBuf b;
  sb_init(&b);
  ir_print_type(&b, p, t);
  snprintf(buf, len, "%s", b.s ? b.s : "?");
  sb_free(&b);
}

/* Evaluate a type's shape under symvals; 0 with a message in why. */
static int eval_shape(const IrProgram *p, const IrType *t, const int64_t *symvals, int64_t *shape, char *why,
                      size_t len) {
  char tt[200];
  if (t->rank < 0 || t->rank > IR_MAX_RANK) {
    snprintf(why, len, "type has rank %d", t->rank);
    return 0;
  }
  for (int i = 0; i < t->rank; i++) {
    Dim d = t->d[i];
    if (!dim_is_const(d)) {
      if (d.sym >= p->syms.n || !symvals) {
        type_text(tt, sizeof tt, p, t);
        snprintf(why, len, "type %s has a symbolic dimension but %s", tt,
                 symvals ? "no such symbol exists" : "no symbol values were given");
        return 0;
      }
    }
    shape[i] = dim_eval(d, symvals);
    if (shape[i] < 0) {
      type_text(tt, sizeof tt, p, t);
      snprintf(why, len, "type %s has dimension %d = %lld under the symbol values", tt, i, (long long)shape[i]);
      return 0;
    }
  }
  return 1;
}

/* Describe operand j: "operand 1 (%3)", "input 'src'", "param @embed[fr].weight". */
static void operand_name(char *buf, size_t len, const IrProgram *p, const IrNode *n, int j) {
  if (n->op == OP_INPUT)
    snprintf(buf, len, "input '%s'", n->name ? n->name : "?");
  else if (n->op == OP_PARAM)
    snprintf(buf, len, "param @%s.%s",
             n->module >= 0 && n->module < p->modules.n ? p->modules.v[n->module].name : "?",
             n->name ? n->name : "?");
  else
    snprintf(buf, len, "operand %d (%%%d)", j, n->in[j]);
}

static int check_operand(const IrProgram *p, const IrNode *n, int j, const IrType *want, const Tensor *x,
                         const int64_t *symvals, char *err, size_t len) {
  char who[160], tt[200], got[200], wants[200];
  int64_t shape[IR_MAX_RANK];
  operand_name(who, sizeof who, p, n, j);
  if (!x || (!x->data && x->n != 0) || (unsigned)x->dt >= DT_COUNT || x->rank < 0 || x->rank > IR_MAX_RANK) {
    snprintf(err, len, "%s has no value", who);
    return 0;
  }
  if (!eval_shape(p, want, symvals, shape, tt, sizeof tt)) {
    snprintf(err, len, "%s: %s", who, tt);
    return 0;
  }
  type_text(tt, sizeof tt, p, want);
  int ok = x->rank == want->rank;
  for (int i = 0; ok && i < x->rank; i++) ok = x->shape[i] == shape[i];
  if (!ok) {
    snprintf(err, len, "%s has shape %s, but its type %s evaluates to %s", who,
             rt_shape_str(got, sizeof got, x->rank, x->shape), tt, rt_shape_str(wants, sizeof wants, want->rank, shape));
    return 0;
  }
  if ((x->dt == DT_I32) != (want->dt == DT_I32)) {
    snprintf(err, len, "%s has dtype %s, but its type is %s", who, dtype_name(x->dt), tt);
    return 0;
  }
  return 1;
}

/* Prepend pre to the message in err (truncating at len). */
void kprefix(char *err, size_t len, const char *pre) {
  size_t lp = strlen(pre), le = strlen(err);
  if (lp >= len) lp = len - 1;
  if (lp + le >= len) le = len - 1 - lp;
  memmove(err + lp, err, le);
  err[lp + le] = 0;
  memcpy(err, pre, lp);
}

int interp_node(const IrProgram *p, const IrGraph *g, int node, const int64_t *symvals,
                const Tensor *const *ins, Tensor *out, InterpCx *cx) {
  if (!cx) return 0;
  cx->err[0] = 0;
  if (!p || !g || !out) {
    snprintf(cx->err, sizeof cx->err, "interp_node: missing program, graph or output");
    return 0;
  }
  memset(out, 0, sizeof *out);
  if (node < 0 || node >= g->nodes.n) {
    snprintf(cx->err, sizeof cx->err, "interp_node: node %d out of range (graph has %d)", node, g->nodes.n);
    return 0;
  }
  const IrNode *n = &g->nodes.v[node];
  if ((unsigned)n->op >= OP_COUNT) {
    snprintf(cx->err, sizeof cx->err, "%%%d: unknown op %d", node, (int)n->op);
    return 0;
  }
  const OpInfo *oi = op_info(n->op);
  char pre[64];
  snprintf(pre, sizeof pre, "%%%d = %s: ", node, oi->name);
  /* every failure: a message in cx->err, then the node prefix */
#define FAIL(...)                                                                          \
  do {                                                                                     \
    snprintf(cx->err, sizeof cx->err, __VA_ARGS__);                                        \
    goto fail;                                                                             \
  } while (0)

  int source = n->op == OP_INPUT || n->op == OP_PARAM;
  int nval = source ? 1 : n->nin;
  Tensor *conv = NULL;
  const Tensor **kin = NULL;
  if (cx->fdt != DT_F32 && cx->fdt != DT_F64) FAIL("InterpCx.fdt must be f32 or f64, got %s", dtype_name(cx->fdt));
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in)) {
    if (oi->max_in < 0) FAIL("has %d operands, the op takes at least %d", n->nin, oi->min_in);
    FAIL("has %d operands, the op takes %d to %d", n->nin, oi->min_in, oi->max_in);
  }
  if (nval > 0 && !ins) FAIL("no operand values given");

  int64_t shape[IR_MAX_RANK];
  if (!eval_shape(p, &n->type, symvals, shape, cx->err, sizeof cx->err)) {
    kprefix(cx->err, sizeof cx->err, "result ");
    goto fail;
  }
  conv = calloc((size_t)(nval > 0 ? nval : 1), sizeof *conv);
  kin = calloc((size_t)(nval > 0 ? nval : 1), sizeof *kin);
  if (!conv || !kin) FAIL("out of memory");
  for (int j = 0; j < nval; j++) {
    if (!source && (n->in[j] < 0 || n->in[j] >= node)) FAIL("operand %d is not defined before use", j);
    const IrType *want = source ? &n->type : &g->nodes.v[n->in[j]].type;
    if (!check_operand(p, n, j, want, ins[j], symvals, cx->err, sizeof cx->err)) goto fail;
    kin[j] = ins[j];
    int narrow = want->dt == DT_BF16 || want->dt == DT_F16; /* holds bf16/f16 values only */
    if (ins[j]->dt != DT_I32 && (ins[j]->dt != cx->fdt || narrow)) {
      if (!rt_tensor_convert(ins[j], cx->fdt, &conv[j])) FAIL("out of memory converting operand %d", j);
      if (narrow)
        for (int64_t i = 0; i < conv[j].n; i++) st(&conv[j], i, rt_round_to(want->dt, ld(&conv[j], i)));
      kin[j] = &conv[j];
    }
  }
  DType odt = n->type.dt == DT_I32 ? DT_I32 : cx->fdt;
  if (!rt_tensor_alloc(out, odt, n->type.rank, shape)) {
    char s[200];
    FAIL("cannot allocate the result %s%s", dtype_name(odt), rt_shape_str(s, sizeof s, n->type.rank, shape));
  }
  Kern k = {p, g, n, node, symvals, nval, kin, out, cx};
  if (!kernels[n->op](&k)) goto fail;
  if (n->type.dt == DT_BF16 || n->type.dt == DT_F16) /* the declared storage format */
    for (int64_t i = 0; i < out->n; i++) st(out, i, rt_round_to(n->type.dt, ld(out, i)));
  for (int j = 0; j < nval; j++) rt_tensor_free(&conv[j]);
  free(conv);
  free(kin);
  return 1;
fail:
#undef FAIL
  kprefix(cx->err, sizeof cx->err, pre);
  if (conv)
    for (int j = 0; j < nval; j++) rt_tensor_free(&conv[j]);
  free(conv);
  free(kin);
  rt_tensor_free(out);
  return 0;
}
