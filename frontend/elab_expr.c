/* elab_expr.c — evaluating expressions: compile-time arithmetic on numbers and dims, and
 * tensor expressions lowered to IR ops (broadcasting arithmetic, @, ^T, slicing), plus
 * names, members, indexing of module arrays and calls.
 */
#include "elab_internal.h"

#include <math.h>
#include <stdlib.h>

/* ---- names ---------------------------------------------------------------------------------- */

static int is_capitalised(const char *s) { return s[0] >= 'A' && s[0] <= 'Z'; }

static Value *eval_name(Cx *c, Scope *s, Expr *e) {
  Value *v = scope_lookup(c, s, e->name, e->loc, 0);
  if (v) return v;
  if (s->body && prim_exists(e->name))
    fail(c, e->loc, "'%s' is a primitive function; call it as %s(...)", e->name, e->name);
  fail(c, e->loc, "unknown name '%s'", e->name);
}

/* ---- arithmetic ---------------------------------------------------------------------------- */

/* An integer constant that leaves int64 is an error at its expression (wrapping is UB). */
static Value *int_result(Cx *c, SrcLoc loc, int overflow, int64_t r) {
  if (overflow) fail(c, loc, "integer overflow: the value does not fit in 64 bits");
  return val_int(c, r);
}

static Value *num_binary(Cx *c, TokKind op, Value *a, Value *b, SrcLoc loc) {
  int ints = (a->kind == V_INT || a->kind == V_BOOL) && (b->kind == V_INT || b->kind == V_BOOL);
  double x, y;
  int64_t ir;
  int overflow;
  value_as_float(c, a, loc, "operand", &x);
  value_as_float(c, b, loc, "operand", &y);
  /* INT64_MIN / -1 overflows; the remainder of anything by -1 is 0 */
  int min_by_minus1 = ints && a->i == INT64_MIN && b->i == -1;
  switch (op) {
  case TK_PLUS:
    if (!ints) return val_float(c, x + y);
    overflow = __builtin_add_overflow(a->i, b->i, &ir); /* a statement of its own: ir is set before use */
    return int_result(c, loc, overflow, ir);
  case TK_MINUS:
    if (!ints) return val_float(c, x - y);
    overflow = __builtin_sub_overflow(a->i, b->i, &ir);
    return int_result(c, loc, overflow, ir);
  case TK_STAR:
    if (!ints) return val_float(c, x * y);
    overflow = __builtin_mul_overflow(a->i, b->i, &ir);
    return int_result(c, loc, overflow, ir);
  case TK_SLASH:
    if (y == 0) fail(c, loc, "division by zero");
    if (ints && min_by_minus1) return int_result(c, loc, 1, 0);
    if (ints && a->i % b->i == 0) return val_int(c, a->i / b->i);
    return val_float(c, x / y);
  case TK_SLASHSLASH:
    if (y == 0) fail(c, loc, "division by zero");
    if (ints) {
      if (min_by_minus1) return int_result(c, loc, 1, 0);
      int64_t q = a->i / b->i;
      if ((a->i % b->i != 0) && ((a->i < 0) != (b->i < 0))) q--;
      return val_int(c, q);
    }
    return val_float(c, floor(x / y));
  case TK_PERCENT:
    if (y == 0) fail(c, loc, "division by zero");
    if (ints) {
      int64_t r = b->i == -1 ? 0 : a->i % b->i;
      if (r != 0 && ((r < 0) != (b->i < 0))) r += b->i;
      return val_int(c, r);
    }
    return val_float(c, x - y * floor(x / y));
  case TK_STARSTAR:
    if (ints && b->i >= 0) {
      if (a->i == 0 || a->i == 1) return val_int(c, b->i == 0 ? 1 : a->i); /* no 10^18-step loops */
      if (a->i == -1) return val_int(c, b->i % 2 ? -1 : 1);
      int64_t r = 1; /* |a| >= 2: at most 63 steps before overflow */
      for (int64_t i = 0; i < b->i; i++)
        if (__builtin_mul_overflow(r, a->i, &r)) return int_result(c, loc, 1, 0);
      return val_int(c, r);
    }
    return val_float(c, pow(x, y));
  case TK_EQ: return val_bool(c, x == y);
  case TK_NE: return val_bool(c, x != y);
  case TK_LT: return val_bool(c, x < y);
  case TK_LE: return val_bool(c, x <= y);
  case TK_GT: return val_bool(c, x > y);
  case TK_GE: return val_bool(c, x >= y);
  default: fail(c, loc, "operator not defined on numbers");
  }
}

/* dims: + - * with ints and one symbol (affine); equality */
static Value *dim_binary(Cx *c, TokKind op, Value *a, Value *b, SrcLoc loc) {
  Dim x = value_as_dim(c, a, loc, "size"), y = value_as_dim(c, b, loc, "size"), r;
  int ok = 0;
  switch (op) {
  case TK_PLUS: {
    Dim ny;
    dim_sub(dim_const(0), y, &ny);
    ok = dim_sub(x, ny, &r);
    break;
  }
  case TK_MINUS: ok = dim_sub(x, y, &r); break;
  case TK_STAR: ok = dim_mul(x, y, &r); break;
  case TK_EQ: return val_bool(c, dim_eq(x, y));
  case TK_NE: return val_bool(c, !dim_eq(x, y));
  default: fail(c, loc, "this operator is not defined on symbolic sizes");
  }
  if (!ok) fail(c, loc, "size expression is not affine in one symbol, or does not fit in 64 bits");
  if (dim_is_const(r)) return val_int(c, r.add);
  Value *v = val_new(c, V_DIM);
  v->dim = r;
  return v;
}

static Op tensor_op(TokKind k) {
  switch (k) {
  case TK_PLUS: return OP_ADD;
  case TK_MINUS: return OP_SUB;
  case TK_STAR: return OP_MUL;
  case TK_SLASH: return OP_DIV;
  case TK_STARSTAR: return OP_POW;
  case TK_AT: return OP_MATMUL;
  case TK_EQ: return OP_EQ;
  case TK_NE: return OP_NE;
  case TK_LT: case TK_GT: return OP_LT;
  case TK_LE: case TK_GE: return OP_LE;
  default: return OP_COUNT;
  }
}

static int is_tensorish(const Value *v) { return v->kind == V_TENSOR || v->kind == V_PARAM; }

static Value *tensor_binary(Cx *c, TokKind k, Value *a, Value *b, SrcLoc loc) {
  Op op = tensor_op(k);
  if (op == OP_COUNT) fail(c, loc, "operator '%s' is not defined on tensors", tok_kind_name(k));
  if (a->kind == V_PARAM) a = param_use(c, a, loc);
  if (b->kind == V_PARAM) b = param_use(c, b, loc);
  DType dt = a->kind == V_TENSOR ? node_at(c, a->node)->type.dt : node_at(c, b->node)->type.dt;
  int in[2] = {to_node(c, a, loc, dt), to_node(c, b, loc, dt)};
  if (k == TK_GT || k == TK_GE) { /* a > b is b < a */
    int t = in[0];
    in[0] = in[1];
    in[1] = t;
  }
  return val_tensor(c, emit(c, op, 2, in, loc));
}

static Value *eval_binary(Cx *c, Scope *s, Expr *e) {
  if (e->op == TK_AND || e->op == TK_OR) {
    Value *a = eval(c, s, e->lhs);
    if (a->kind != V_BOOL) fail(c, e->lhs->loc, "'%s' needs bools, got %s", e->op == TK_AND ? "and" : "or", val_describe(c, a));
    if ((e->op == TK_AND) != (a->i != 0)) return a; /* short circuit */
    Value *b = eval(c, s, e->rhs);
    if (b->kind != V_BOOL) fail(c, e->rhs->loc, "'%s' needs bools, got %s", e->op == TK_AND ? "and" : "or", val_describe(c, b));
    return b;
  }
  Value *a = eval(c, s, e->lhs), *b = eval(c, s, e->rhs);
  if ((e->op == TK_EQ || e->op == TK_NE) && (a->kind == V_NONE || b->kind == V_NONE)) /* x != none */
    return val_bool(c, (e->op == TK_EQ) == (a->kind == b->kind));
  if (is_tensorish(a) || is_tensorish(b)) return tensor_binary(c, e->op, a, b, e->loc);
  if (a->kind == V_DIM || b->kind == V_DIM) return dim_binary(c, e->op, a, b, e->loc);
  if (value_is_number(a) && value_is_number(b)) return num_binary(c, e->op, a, b, e->loc);
  if (e->op == TK_EQ || e->op == TK_NE) { /* strings, index values, none */
    int eq;
    if (a->kind == V_STR && b->kind == V_STR)
      eq = strcmp(a->s, b->s) == 0;
    else if (a->kind == V_IDX && b->kind == V_IDX)
      eq = strcmp(idx_name(a), idx_name(b)) == 0;
    else
      fail(c, e->loc, "cannot compare %s with %s", val_describe(c, a), val_describe(c, b));
    return val_bool(c, e->op == TK_EQ ? eq : !eq);
  }
  fail(c, e->loc, "operator '%s' is not defined on %s and %s", tok_kind_name(e->op), val_describe(c, a),
       val_describe(c, b));
}

static Value *eval_unary(Cx *c, Scope *s, Expr *e) {
  Value *a = eval(c, s, e->lhs);
  if (e->op == TK_NOT) {
    if (a->kind != V_BOOL) fail(c, e->loc, "'not' needs a bool, got %s", val_describe(c, a));
    return val_bool(c, !a->i);
  }
  if (a->kind == V_INT) return int_result(c, e->loc, a->i == INT64_MIN, a->i == INT64_MIN ? 0 : -a->i);
  if (a->kind == V_FLOAT) return val_float(c, -a->f);
  if (a->kind == V_DIM) return dim_binary(c, TK_MINUS, val_int(c, 0), a, e->loc);
  if (is_tensorish(a)) {
    int in = to_node(c, a, e->loc, DT_F32);
    return val_tensor(c, emit(c, OP_NEG, 1, &in, e->loc));
  }
  fail(c, e->loc, "cannot negate %s", val_describe(c, a));
}

/* ---- indexing --------------------------------------------------------------------------------- */

/* x[...] on a tensor: per-axis slices; an integer drops the axis; `...` skips axes. */
static Value *tensor_index(Cx *c, Scope *s, Value *x, Expr *e) {
  int node = to_node(c, x, e->loc, DT_F32);
  int rank = node_at(c, node)->type.rank, ell = -1;
  for (int i = 0; i < e->nargs; i++) {
    if (e->args[i].name) fail(c, e->args[i].loc, "keyword in an index");
    if (e->args[i].value->kind == E_ELLIPSIS) {
      if (ell >= 0) fail(c, e->args[i].loc, "only one '...' per index");
      ell = i;
    }
  }
  int given = e->nargs - (ell >= 0);
  if (given > rank) fail(c, e->loc, "%d indices for a tensor of rank %d", given, rank);
  int axis = 0, drop[IR_MAX_RANK] = {0}, ndrop = 0;
  for (int i = 0; i < e->nargs; i++) {
    Expr *ix = e->args[i].value;
    if (ix->kind == E_ELLIPSIS) {
      axis += rank - given;
      continue;
    }
    int64_t start = 0, end = 0, step = 1;
    int has_end = 0;
    if (ix->kind == E_SLICE) {
      if (ix->lhs) value_as_int(c, eval(c, s, ix->lhs), ix->lhs->loc, "slice start", &start);
      if (ix->rhs) {
        value_as_int(c, eval(c, s, ix->rhs), ix->rhs->loc, "slice end", &end);
        has_end = 1;
      }
      if (ix->step) value_as_int(c, eval(c, s, ix->step), ix->step->loc, "slice step", &step);
      if (!ix->lhs && !ix->rhs && step == 1) {
        axis++;
        continue;
      }
    } else {
      value_as_int(c, eval(c, s, ix), ix->loc, "index", &start);
      end = start + 1;
      has_end = end != 0;
      drop[axis] = 1;
      ndrop++;
    }
    int id = ir_node_add(c->p, c->g, OP_SLICE, 1, &node);
    ir_set_i(node_at(c, id), "axis", axis);
    if (start) ir_set_i(node_at(c, id), "start", start);
    if (has_end) ir_set_i(node_at(c, id), "end", end);
    if (step != 1) ir_set_i(node_at(c, id), "step", step);
    node_at(c, id)->loc = ix->loc;
    char err[512];
    if (!ir_infer(c->p, c->g, id, err, sizeof err)) fail(c, ix->loc, "%s", err);
    node = id;
    axis++;
  }
  if (ndrop) {
    IrType t = node_at(c, node)->type, r = {.dt = t.dt};
    for (int i = 0; i < t.rank; i++)
      if (!drop[i]) r.d[r.rank++] = t.d[i];
    node = emit_declared(c, OP_RESHAPE, 1, &node, r, e->loc);
  }
  return val_tensor(c, node);
}

static Value *eval_index(Cx *c, Scope *s, Expr *e) {
  Value *x = eval(c, s, e->lhs);
  if (x->kind == V_MODDECL) {
    ModDecl *m = x->mod;
    if (e->nargs != m->nsets)
      fail(c, e->loc, "module '%s' takes %d index value%s, got %d", m->decl->name, m->nsets,
           m->nsets == 1 ? "" : "s", e->nargs);
    Value *idx[8];
    SrcLoc locs[8];
    for (int i = 0; i < e->nargs; i++) {
      Expr *ix = e->args[i].value;
      locs[i] = ix->loc;
      Value *v = NULL;
      if (ix->kind == E_NAME) { /* a bare value of the set, unless the name is bound */
        v = scope_lookup(c, s, ix->name, ix->loc, 0);
        if (!v) {
          IndexSet *set = m->sets[i];
          for (int k = 0; k < set->n && !v; k++)
            if (strcmp(set->values[k], ix->name) == 0) {
              v = val_new(c, V_IDX);
              v->set = set;
              v->i = k;
            }
          if (!v) fail(c, ix->loc, "unknown index value '%s' for %s", ix->name, set->name);
        }
      } else {
        v = eval(c, s, ix);
      }
      idx[i] = v;
    }
    Inst *in = moddecl_instance(c, m, idx, locs, e->loc);
    Value *r = val_new(c, V_INST);
    r->inst = in;
    return r;
  }
  if (x->kind == V_SUBARR) {
    if (e->nargs != 1) fail(c, e->loc, "a module array takes one index");
    int64_t i;
    value_as_int(c, eval(c, s, e->args[0].value), e->args[0].value->loc, "module array index", &i);
    if (i < 0 || i >= x->n) fail(c, e->loc, "index %lld out of range 0..%d", (long long)i, x->n);
    return x->items[i];
  }
  if (x->kind == V_LIST) {
    if (e->nargs != 1) fail(c, e->loc, "a list takes one index");
    int64_t i;
    value_as_int(c, eval(c, s, e->args[0].value), e->args[0].value->loc, "list index", &i);
    if (i < 0) i += x->n;
    if (i < 0 || i >= x->n) fail(c, e->loc, "index out of range: the list has %d items", x->n);
    return x->items[i];
  }
  if (is_tensorish(x)) return tensor_index(c, s, x, e);
  if (x->kind == V_INST) fail(c, e->loc, "module '%s' is not indexed", x->inst->display);
  fail(c, e->loc, "cannot index %s", val_describe(c, x));
}

/* ---- members -------------------------------------------------------------------------------------- */

static Value *eval_member(Cx *c, Scope *s, Expr *e) {
  Value *x = eval(c, s, e->lhs);
  if (x->kind == V_UNIT) {
    Binding *b = scope_find_local(x->unit->globals, e->name);
    if (!b || b->value->kind == V_UNIT) fail(c, e->loc, "'%s' has no '%s'", x->unit->name, e->name);
    return b->value;
  }
  if (x->kind == V_MODDECL && x->mod->nsets == 0) {
    Inst *in = moddecl_instance(c, x->mod, NULL, NULL, e->loc);
    x = val_new(c, V_INST);
    x->inst = in;
  }
  if (x->kind == V_MODDECL)
    fail(c, e->loc, "module '%s' needs its index values before '.%s'", x->mod->decl->name, e->name);
  if (x->kind == V_INST) {
    Binding *b = scope_find_local(x->inst->scope, e->name);
    if (b && (b->value->kind == V_PARAM || b->value->kind == V_INST || b->value->kind == V_SUBARR))
      return b->value;
    Decl *m = block_member(x->inst->block, D_METHOD, e->name);
    if (m) {
      Value *v = val_new(c, V_METHOD);
      v->inst = x->inst;
      v->decl = m;
      return v;
    }
    fail(c, e->loc, "module %s (a %s) has no parameter, sub-module or method '%s'", x->inst->display,
         x->inst->block->name, e->name);
  }
  if (is_tensorish(x) && strcmp(e->name, "shape") == 0) {
    int node = to_node(c, x, e->loc, DT_F32);
    IrType t = node_at(c, node)->type;
    Value *l = val_new(c, V_LIST);
    l->n = t.rank;
    l->items = ARENA_ARRAY(c->a, Value *, t.rank ? t.rank : 1);
    for (int i = 0; i < t.rank; i++) {
      if (dim_is_const(t.d[i])) {
        l->items[i] = val_int(c, t.d[i].add);
      } else {
        l->items[i] = val_new(c, V_DIM);
        l->items[i]->dim = t.d[i];
      }
    }
    return l;
  }
  if (is_tensorish(x) && strcmp(e->name, "dtype") == 0) {
    Value *v = val_new(c, V_DTYPE);
    v->i = node_at(c, to_node(c, x, e->loc, DT_F32))->type.dt;
    return v;
  }
  if (x->kind == V_BLOCK) {
    for (int i = x->nbound - 1; i >= 0; i--)
      if (strcmp(x->bound[i].name, e->name) == 0) return x->bound[i].value;
    fail(c, e->loc, "block value %s has no bound argument '%s'", x->decl->name, e->name);
  }
  fail(c, e->loc, "%s has no member '%s'", val_describe(c, x), e->name);
}

/* ---- calls ---------------------------------------------------------------------------------------- */

Value *eval_call_value(Cx *c, Scope *s, Value *f, Expr *call) {
  switch (f->kind) {
  case V_BLOCK: return block_apply(c, f, s, call);
  case V_FN: return call_fn(c, s, f, call);
  case V_MODDECL:
    if (f->mod->nsets) fail(c, call->loc, "module '%s' needs index values: %s[...](...)", f->mod->decl->name, f->mod->decl->name);
    {
      Inst *in = moddecl_instance(c, f->mod, NULL, NULL, call->loc);
      f = val_new(c, V_INST);
      f->inst = in;
    }
    /* fallthrough */
  case V_INST: {
    Decl *fwd = block_member(f->inst->block, D_METHOD, "forward");
    if (!fwd) fail(c, call->loc, "module %s (a %s) has no forward method", f->inst->display, f->inst->block->name);
    return call_method(c, s, f->inst, fwd, call, call->loc);
  }
  case V_METHOD: return call_method(c, s, f->inst, f->decl, call, call->loc);
  case V_SET: {
    IndexSet *set = f->set;
    if (!set->nmembers) fail(c, call->loc, "index set '%s' has no groups, so it cannot be called", set->name);
    if (call->nargs != 1 || call->args[0].name) fail(c, call->loc, "%s(...) takes one index value", set->name);
    Value *x = eval(c, s, call->args[0].value);
    const char *name = x->kind == V_IDX ? idx_name(x) : x->kind == V_STR ? x->s : NULL;
    if (!name) fail(c, call->args[0].value->loc, "%s(...) takes an index value, got %s", set->name, val_describe(c, x));
    for (int k = 0; k < set->nmembers; k++)
      if (strcmp(set->members[k], name) == 0)
        for (int j = 0; j < set->n; j++)
          if (strcmp(set->values[j], set->member_group[k]) == 0) {
            Value *r = val_new(c, V_IDX);
            r->set = set;
            r->i = j;
            return r;
          }
    fail(c, call->loc, "'%s' is in no group of %s", name, set->name);
  }
  case V_BUILTIN: {
    if (call->nargs != 1 || call->args[0].name) fail(c, call->loc, "%s(...) takes one argument", f->s);
    Value *x = eval(c, s, call->args[0].value);
    if (strcmp(f->s, "len") == 0) {
      if (x->kind == V_SET) return val_int(c, x->set->n);
      if (x->kind == V_LIST) return val_int(c, x->n);
      if (x->kind == V_SUBARR) return val_int(c, x->n);
      fail(c, call->loc, "len() takes an index set or a list, got %s", val_describe(c, x));
    }
    const char *name = x->kind == V_IDX ? idx_name(x) : x->kind == V_STR ? x->s : NULL;
    if (!name) fail(c, call->args[0].value->loc, "vocab() takes a language (index value) or a name, got %s", val_describe(c, x));
    if (!c->env->has_config) fail(c, call->loc, "vocab(%s) needs the run configuration (--config)", name);
    for (int i = 0; i < c->env->nvocabs; i++)
      if (strcmp(c->env->vocabs[i].name, name) == 0) return val_int(c, c->env->vocabs[i].size);
    fail(c, call->loc, "no vocabulary for '%s' in the run configuration", name);
  }
  default: fail(c, call->loc, "%s is not callable", val_describe(c, f));
  }
}

static Value *eval_call(Cx *c, Scope *s, Expr *e) {
  if (e->lhs->kind == E_NAME) {
    Value *f = scope_lookup(c, s, e->lhs->name, e->lhs->loc, 1);
    if (!f && s->body && prim_exists(e->lhs->name)) return prim_call(c, s, e->lhs->name, e);
    if (!f) fail(c, e->lhs->loc, "unknown name '%s'", e->lhs->name);
    return eval_call_value(c, s, f, e);
  }
  return eval_call_value(c, s, eval(c, s, e->lhs), e);
}

/* ---- types -------------------------------------------------------------------------------------------- */

/* dtype[dims]: dims are ints, consts, dims, or (when symbols_ok) capitalised unbound names. */
IrType eval_type(Cx *c, Scope *s, Expr *te, int symbols_ok) {
  IrType t = {.dt = DT_F32};
  if (te->name && !dtype_parse(te->name, &t.dt)) fail(c, te->loc, "unknown dtype '%s'", te->name);
  if (te->nargs > IR_MAX_RANK) fail(c, te->loc, "more than %d dimensions", IR_MAX_RANK);
  t.rank = te->nargs;
  for (int i = 0; i < te->nargs; i++) {
    Expr *d = te->args[i].value;
    if (d->kind == E_NAME && !scope_lookup(c, s, d->name, d->loc, 0)) {
      if (!symbols_ok) fail(c, d->loc, "unknown name '%s' in a shape", d->name);
      if (!is_capitalised(d->name))
        fail(c, d->loc, "unknown name '%s' (symbolic sizes are capitalised: B, S, T)", d->name);
      t.d[i] = dim_sym(ir_sym(c->p, d->name));
      continue;
    }
    t.d[i] = value_as_dim(c, eval(c, s, d), d->loc, "a dimension");
  }
  return t;
}

/* ---- dispatch ------------------------------------------------------------------------------------------- */

Value *eval(Cx *c, Scope *s, Expr *e) {
  switch (e->kind) {
  case E_INT: return val_int(c, e->ival);
  case E_FLOAT: return val_float(c, e->fval);
  case E_BOOL: return val_bool(c, (int)e->ival);
  case E_NONE: return val_none(c);
  case E_STR: {
    Value *v = val_new(c, V_STR);
    v->s = e->name;
    return v;
  }
  case E_NAME: return eval_name(c, s, e);
  case E_MEMBER: return eval_member(c, s, e);
  case E_INDEX: return eval_index(c, s, e);
  case E_CALL: return eval_call(c, s, e);
  case E_UNARY: return eval_unary(c, s, e);
  case E_BINARY: return eval_binary(c, s, e);
  case E_TRANSPOSE: {
    Value *x = eval(c, s, e->lhs);
    if (!is_tensorish(x)) fail(c, e->loc, "^T needs a tensor, got %s", val_describe(c, x));
    int in = to_node(c, x, e->loc, DT_F32);
    int r = node_at(c, in)->type.rank;
    if (r < 2) fail(c, e->loc, "^T needs rank >= 2, got %s", val_describe(c, x));
    int64_t perm[IR_MAX_RANK];
    for (int i = 0; i < r; i++) perm[i] = i;
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    int id = ir_node_add(c->p, c->g, OP_TRANSPOSE, 1, &in);
    ir_set_ints(c->p, node_at(c, id), "perm", perm, r);
    node_at(c, id)->loc = e->loc;
    char err[512];
    if (!ir_infer(c->p, c->g, id, err, sizeof err)) fail(c, e->loc, "%s", err);
    return val_tensor(c, id);
  }
  case E_LIST: {
    Value *l = val_new(c, V_LIST);
    l->n = e->nargs;
    l->items = ARENA_ARRAY(c->a, Value *, e->nargs ? e->nargs : 1);
    for (int i = 0; i < e->nargs; i++) l->items[i] = eval(c, s, e->args[i].value);
    return l;
  }
  case E_RANGE: {
    Value *v = val_new(c, V_RANGE);
    value_as_int(c, eval(c, s, e->lhs), e->lhs->loc, "range start", &v->i);
    value_as_int(c, eval(c, s, e->rhs), e->rhs->loc, "range end", &v->j);
    return v;
  }
  case E_TYPE: fail(c, e->loc, "a tensor type is not a value here");
  case E_SLICE:
  case E_ELLIPSIS: fail(c, e->loc, "a slice is only allowed inside [...]");
  }
  die("bad expression kind");
}
