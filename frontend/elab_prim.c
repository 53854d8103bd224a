/* elab_prim.c — the primitive tensor functions of .mam bodies, each lowered to IR ops.
 *
 * Keyword arguments map to the op's attributes by name (ir/ops.def is the schema), so a new
 * op attribute is usable from .mam without touching this file. Shape errors from the op's
 * shape rule are reported at the call.
 */
#include "elab_internal.h"

typedef enum { P_UNARY, P_BINARY, P_OPERANDS, P_REDUCE, P_RESHAPE, P_EXPAND, P_TRANSPOSE,
               P_CONCAT, P_CAST, P_IOTA } PrimKind;

typedef struct Prim {
  const char *name;
  Op op;
  PrimKind kind;
} Prim;

static const Prim prims[] = {
    {"exp", OP_EXP, P_UNARY},          {"log", OP_LOG, P_UNARY},
    {"sqrt", OP_SQRT, P_UNARY},        {"rsqrt", OP_RSQRT, P_UNARY},
    {"recip", OP_RECIP, P_UNARY},      {"abs", OP_ABS, P_UNARY},
    {"square", OP_SQUARE, P_UNARY},    {"tanh", OP_TANH, P_UNARY},
    {"sigmoid", OP_SIGMOID, P_UNARY},  {"relu", OP_RELU, P_UNARY},
    {"gelu", OP_GELU, P_UNARY},        {"silu", OP_SILU, P_UNARY},
    {"sin", OP_SIN, P_UNARY},          {"cos", OP_COS, P_UNARY},
    {"maximum", OP_MAXIMUM, P_BINARY}, {"minimum", OP_MINIMUM, P_BINARY},
    {"pow", OP_POW, P_BINARY},         {"where", OP_WHERE, P_OPERANDS},
    {"sum", OP_REDUCE_SUM, P_REDUCE},  {"mean", OP_REDUCE_MEAN, P_REDUCE},
    {"max", OP_REDUCE_MAX, P_REDUCE},  {"softmax", OP_SOFTMAX, P_OPERANDS},
    {"log_softmax", OP_LOG_SOFTMAX, P_OPERANDS},
    {"layernorm", OP_LAYERNORM, P_OPERANDS}, {"rmsnorm", OP_RMSNORM, P_OPERANDS},
    {"groupnorm", OP_GROUPNORM, P_OPERANDS},
    {"cross_entropy", OP_CROSS_ENTROPY, P_OPERANDS},
    {"gather", OP_GATHER, P_OPERANDS}, {"dropout", OP_DROPOUT, P_OPERANDS},
    {"softmax_attention", OP_SOFTMAX_ATTENTION, P_OPERANDS},
    {"linear_attention", OP_LINEAR_ATTENTION, P_OPERANDS},
    {"linear_attention_state", OP_LINEAR_ATTENTION_STATE, P_OPERANDS},
    {"reshape", OP_RESHAPE, P_RESHAPE}, {"expand", OP_EXPAND, P_EXPAND},
    {"transpose", OP_TRANSPOSE, P_TRANSPOSE}, {"concat", OP_CONCAT, P_CONCAT},
    {"cast", OP_CAST, P_CAST},          {"iota", OP_IOTA, P_IOTA},
};

static const Prim *prim_find(const char *name) {
  for (int i = 0; i < COUNT_OF(prims); i++)
    if (strcmp(prims[i].name, name) == 0) return &prims[i];
  return NULL;
}

int prim_exists(const char *name) { return prim_find(name) != NULL; }

IrNode *node_at(Cx *c, int id) { return &c->g->nodes.v[id]; }

/* ---- emitting nodes ---------------------------------------------------------------------- */

static int finish(Cx *c, int id, SrcLoc loc) {
  char err[512];
  IrNode *n = node_at(c, id);
  n->loc = loc;
  if (c->cur) {
    n->owner = c->cur->irmod;
    size_t len = strlen(c->cur->prefix);
    n->owner_path = len ? arena_strndup(c->a, c->cur->prefix, len - 1) : "";
  }
  if (!ir_infer(c->p, c->g, id, err, sizeof err)) fail(c, loc, "%s", err);
  return id;
}

int emit(Cx *c, Op op, int nin, const int *in, SrcLoc loc) {
  if (!c->g) fail(c, loc, "tensor operations are only allowed inside a task, method or fn");
  return finish(c, ir_node_add(c->p, c->g, op, nin, in), loc);
}

int emit_declared(Cx *c, Op op, int nin, const int *in, IrType t, SrcLoc loc) {
  if (!c->g) fail(c, loc, "tensor operations are only allowed inside a task, method or fn");
  int id = ir_node_add(c->p, c->g, op, nin, in);
  node_at(c, id)->type = t;
  return finish(c, id, loc);
}

int emit_const(Cx *c, double v, DType dt, SrcLoc loc) {
  if (!c->g) fail(c, loc, "tensor operations are only allowed inside a task, method or fn");
  int id = ir_node_add(c->p, c->g, OP_CONST, 0, NULL);
  node_at(c, id)->type = (IrType){.dt = dt, .rank = 0};
  ir_set_f(node_at(c, id), "value", v);
  return finish(c, id, loc);
}

/* ---- arguments ------------------------------------------------------------------------------- */

typedef struct Args {
  int npos;
  Value *pos[8];
  SrcLoc posloc[8];
  int nkw;
  const char *kw[8];
  Value *kwv[8];
  SrcLoc kwloc[8];
} Args;

static void eval_args(Cx *c, Scope *s, const char *name, Expr *call, Args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < call->nargs; i++) {
    Arg *g = &call->args[i];
    if (g->name) {
      if (a->nkw == 8) fail(c, g->loc, "too many keyword arguments to %s", name);
      a->kw[a->nkw] = g->name;
      a->kwloc[a->nkw] = g->loc;
      a->kwv[a->nkw++] = eval(c, s, g->value);
    } else {
      if (a->npos == 8) fail(c, g->loc, "too many arguments to %s", name);
      a->posloc[a->npos] = g->value->loc;
      a->pos[a->npos++] = eval(c, s, g->value);
    }
  }
}

static void list_attrs(Cx *c, StrBuf *b, Op op) {
  const OpInfo *oi = op_info(op);
  for (int k = 0; k < oi->nattrs; k++) sb_printf(b, "%s%s", k ? ", " : "", oi->attrs[k].name);
  if (!oi->nattrs) sb_puts(b, "none");
  (void)c;
}

/* Sets attribute `key` of node id from a compile-time value. */
static void set_attr(Cx *c, int id, const char *key, Value *v, SrcLoc loc) {
  IrNode *n = node_at(c, id);
  int k = op_attr_index(n->op, key);
  if (k < 0) {
    StrBuf b;
    sb_init(&b);
    list_attrs(c, &b, n->op);
    const char *keys = arena_take_sb(c->a, &b);
    fail(c, loc, "%s has no argument '%s' (it takes: %s)", op_info(n->op)->name, key, keys);
  }
  const AttrSpec *spec = &op_info(n->op)->attrs[k];
  int64_t iv;
  double fv;
  switch (spec->kind) {
  case AK_INT:
    value_as_int(c, v, loc, key, &iv);
    ir_set_i(n, key, iv);
    break;
  case AK_FLAG:
    if (v->kind != V_BOOL) fail(c, loc, "'%s' must be true or false, got %s", key, val_describe(c, v));
    n->attr[k].set = 1;
    n->attr[k].i = v->i;
    break;
  case AK_FLOAT:
    value_as_float(c, v, loc, key, &fv);
    ir_set_f(n, key, fv);
    break;
  case AK_ENUM: {
    const char *w = v->kind == V_STR ? v->s : v->kind == V_DTYPE ? dtype_name((DType)v->i) : NULL;
    if (!w || !ir_set_enum(n, key, w)) {
      StrBuf b;
      sb_init(&b);
      for (int i = 0; i < spec->nwords; i++) sb_printf(&b, "%s\"%s\"", i ? ", " : "", spec->words[i]);
      const char *words = arena_take_sb(c->a, &b);
      fail(c, loc, "'%s' must be one of %s, got %s", key, words, val_describe(c, v));
    }
    break;
  }
  case AK_INTS: {
    int64_t buf[IR_MAX_RANK];
    int nv = 0;
    if (v->kind == V_LIST) {
      if (v->n > IR_MAX_RANK) fail(c, loc, "'%s' has too many entries", key);
      for (int i = 0; i < v->n; i++) value_as_int(c, v->items[i], loc, key, &buf[nv++]);
    } else {
      value_as_int(c, v, loc, key, &buf[nv++]);
    }
    ir_set_ints(c->p, node_at(c, id), key, buf, nv);
    break;
  }
  case AK_GROUP:
    if (v->kind != V_STR) fail(c, loc, "'%s' must be a string, got %s", key, val_describe(c, v));
    ir_set_group(c->p, node_at(c, id), key, v->s);
    break;
  }
}

static DType first_float_dtype(Cx *c, Args *a) {
  for (int i = 0; i < a->npos; i++)
    if (a->pos[i]->kind == V_TENSOR) return node_at(c, a->pos[i]->node)->type.dt;
  return DT_F32;
}

int to_node(Cx *c, Value *v, SrcLoc loc, DType like) {
  if (v->kind == V_PARAM) v = param_use(c, v, loc);
  if (v->kind == V_TENSOR) return v->node;
  if (value_is_number(v)) {
    double f;
    value_as_float(c, v, loc, "operand", &f);
    return emit_const(c, f, like, loc);
  }
  fail(c, loc, "expected a tensor, got %s", val_describe(c, v));
}

static IrType dims_type(Cx *c, Value *list, DType dt, SrcLoc loc, const char *what) {
  if (list->kind != V_LIST) fail(c, loc, "%s must be a list of sizes, got %s", what, val_describe(c, list));
  if (list->n > IR_MAX_RANK) fail(c, loc, "%s has more than %d dimensions", what, IR_MAX_RANK);
  IrType t = {.dt = dt, .rank = list->n};
  for (int i = 0; i < list->n; i++) t.d[i] = value_as_dim(c, list->items[i], loc, what);
  return t;
}

static void need_pos(Cx *c, const char *name, Args *a, int lo, int hi, SrcLoc loc) {
  if (a->npos < lo || a->npos > hi) {
    if (lo == hi) fail(c, loc, "%s takes %d argument%s, got %d", name, lo, lo == 1 ? "" : "s", a->npos);
    fail(c, loc, "%s takes %d to %d arguments, got %d", name, lo, hi, a->npos);
  }
}

static void kw_attrs(Cx *c, int id, Args *a, const char *skip) {
  for (int i = 0; i < a->nkw; i++)
    if (!skip || strcmp(a->kw[i], skip) != 0) set_attr(c, id, a->kw[i], a->kwv[i], a->kwloc[i]);
}

/* Attributes must be set before the shape rule runs: add the node, set, then infer. */
static int emit_with_attrs(Cx *c, Op op, int nin, const int *in, Args *a, const IrType *declared, SrcLoc loc) {
  if (!c->g) fail(c, loc, "tensor operations are only allowed inside a task, method or fn");
  int id = ir_node_add(c->p, c->g, op, nin, in);
  if (declared) node_at(c, id)->type = *declared;
  kw_attrs(c, id, a, NULL);
  return finish(c, id, loc);
}

/* cross_entropy: smoothing is the call's `smoothing:`, else train.label_smoothing; a model
 * and a configuration that both state it must agree (else one of them is silently ignored). */
static int cross_entropy(Cx *c, int nin, const int *in, Args *a, SrcLoc loc) {
  if (!c->g) fail(c, loc, "tensor operations are only allowed inside a task, method or fn");
  int id = ir_node_add(c->p, c->g, OP_CROSS_ENTROPY, nin, in);
  const FeEnv *env = c->env;
  if (env && env->has_config) ir_set_f(node_at(c, id), "smoothing", env->label_smoothing);
  kw_attrs(c, id, a, NULL);
  for (int i = 0; i < a->nkw; i++) {
    double own = ir_get_f(node_at(c, id), "smoothing");
    if (strcmp(a->kw[i], "smoothing") != 0 || !env || !env->label_smoothing_given || own == env->label_smoothing)
      continue;
    const SrcLoc *cl = &env->label_smoothing_loc;
    char where[600] = "";
    if (cl->file) snprintf(where, sizeof where, " (%s:%d)", cl->file->name, cl->line);
    fail(c, a->kwloc[i], "cross_entropy(smoothing: %g) disagrees with the run configuration's "
         "train.label_smoothing: %g%s; state it in one place", own, env->label_smoothing, where);
  }
  return finish(c, id, loc);
}

Value *prim_call(Cx *c, Scope *s, const char *name, Expr *call) {
  const Prim *p = prim_find(name);
  SrcLoc loc = call->loc;
  Args a = {0};
  eval_args(c, s, name, call, &a);
  int in[8], nin = 0;
  switch (p->kind) {
  case P_UNARY:
    need_pos(c, name, &a, 1, 1, loc);
    in[0] = to_node(c, a.pos[0], a.posloc[0], DT_F32);
    return val_tensor(c, emit_with_attrs(c, p->op, 1, in, &a, NULL, loc));
  case P_BINARY: {
    need_pos(c, name, &a, 2, 2, loc);
    DType dt = first_float_dtype(c, &a);
    for (int i = 0; i < 2; i++) in[i] = to_node(c, a.pos[i], a.posloc[i], dt);
    return val_tensor(c, emit_with_attrs(c, p->op, 2, in, &a, NULL, loc));
  }
  case P_OPERANDS: {
    /* positional tensors; `none` leaves an optional operand out (only trailing ones) */
    DType dt = first_float_dtype(c, &a);
    for (int i = 0; i < a.npos; i++) {
      if (a.pos[i]->kind == V_NONE) {
        for (int j = i + 1; j < a.npos && j < COUNT_OF(a.pos); j++)
          if (a.pos[j]->kind != V_NONE)
            fail(c, a.posloc[j], "%s: an operand after a 'none' operand is not supported", name);
        break;
      }
      in[nin++] = to_node(c, a.pos[i], a.posloc[i], dt);
    }
    if (p->op == OP_CROSS_ENTROPY) return val_tensor(c, cross_entropy(c, nin, in, &a, loc));
    if (p->op == OP_DROPOUT) { /* a distinct default seed per dropout site, so masks differ */
      int id = ir_node_add(c->p, c->g, p->op, nin, in);
      ir_set_i(node_at(c, id), "seed", id + 1);
      kw_attrs(c, id, &a, NULL);
      return val_tensor(c, finish(c, id, loc));
    }
    return val_tensor(c, emit_with_attrs(c, p->op, nin, in, &a, NULL, loc));
  }
  case P_REDUCE: {
    need_pos(c, name, &a, 1, 1, loc);
    in[0] = to_node(c, a.pos[0], a.posloc[0], DT_F32);
    int id = ir_node_add(c->p, c->g, p->op, 1, in);
    int have_axes = 0;
    for (int i = 0; i < a.nkw; i++) {
      if (strcmp(a.kw[i], "axis") == 0 || strcmp(a.kw[i], "axes") == 0) {
        if (have_axes) fail(c, a.kwloc[i], "give either 'axis' or 'axes', once");
        have_axes = 1;
        set_attr(c, id, "axes", a.kwv[i], a.kwloc[i]);
      } else {
        set_attr(c, id, a.kw[i], a.kwv[i], a.kwloc[i]);
      }
    }
    if (!have_axes) { /* all axes */
      int64_t ax[IR_MAX_RANK];
      int r = node_at(c, in[0])->type.rank;
      for (int i = 0; i < r; i++) ax[i] = i;
      ir_set_ints(c->p, node_at(c, id), "axes", ax, r);
    }
    return val_tensor(c, finish(c, id, loc));
  }
  case P_RESHAPE:
  case P_EXPAND: {
    need_pos(c, name, &a, 2, 2, loc);
    in[0] = to_node(c, a.pos[0], a.posloc[0], DT_F32);
    IrType t = dims_type(c, a.pos[1], node_at(c, in[0])->type.dt, a.posloc[1], "the new shape");
    return val_tensor(c, emit_with_attrs(c, p->op, 1, in, &a, &t, loc));
  }
  case P_TRANSPOSE: {
    need_pos(c, name, &a, 2, 2, loc);
    in[0] = to_node(c, a.pos[0], a.posloc[0], DT_F32);
    int id = ir_node_add(c->p, c->g, OP_TRANSPOSE, 1, in);
    set_attr(c, id, "perm", a.pos[1], a.posloc[1]);
    kw_attrs(c, id, &a, NULL);
    return val_tensor(c, finish(c, id, loc));
  }
  case P_CONCAT: {
    need_pos(c, name, &a, 1, 1, loc);
    Value *l = a.pos[0];
    if (l->kind != V_LIST || l->n < 1 || l->n > 8)
      fail(c, a.posloc[0], "concat takes a list of 1 to 8 tensors, got %s", val_describe(c, l));
    for (int i = 0; i < l->n; i++) in[nin++] = to_node(c, l->items[i], a.posloc[0], DT_F32);
    return val_tensor(c, emit_with_attrs(c, OP_CONCAT, nin, in, &a, NULL, loc));
  }
  case P_CAST: {
    need_pos(c, name, &a, 2, 2, loc);
    in[0] = to_node(c, a.pos[0], a.posloc[0], DT_F32);
    int id = ir_node_add(c->p, c->g, OP_CAST, 1, in);
    set_attr(c, id, "to", a.pos[1], a.posloc[1]);
    return val_tensor(c, finish(c, id, loc));
  }
  case P_IOTA: {
    need_pos(c, name, &a, 1, 1, loc);
    DType dt = DT_F32;
    Args rest = a;
    rest.nkw = 0;
    for (int i = 0; i < a.nkw; i++) {
      if (strcmp(a.kw[i], "dtype") == 0) {
        if (a.kwv[i]->kind != V_DTYPE) fail(c, a.kwloc[i], "dtype must be a dtype name (f32, i32, ...)");
        dt = (DType)a.kwv[i]->i;
      } else {
        rest.kw[rest.nkw] = a.kw[i];
        rest.kwv[rest.nkw] = a.kwv[i];
        rest.kwloc[rest.nkw++] = a.kwloc[i];
      }
    }
    IrType t = dims_type(c, a.pos[0], dt, a.posloc[0], "the shape");
    return val_tensor(c, emit_with_attrs(c, OP_IOTA, 0, NULL, &rest, &t, loc));
  }
  }
  die("bad primitive kind");
}
