/* elab_module.c — blocks as values, module instances, and calls.
 *
 * A block value is a block plus the arguments bound so far (partial application). A `module`
 * declaration instantiates one: every block parameter bound (defaults evaluated in order, so
 * they may use earlier ones), then the members run in order — consts, `param`s (added to the
 * top-level IR module with the instance's dotted prefix), sub-modules (instantiated
 * recursively). Calling an instance inlines its method body into the current graph.
 */
#include "elab_internal.h"

#include <math.h>

Decl *block_member(Decl *block, DeclKind kind, const char *name) {
  for (int i = 0; i < block->members.n; i++) {
    Decl *m = block->members.v[i];
    if (m->kind == kind && strcmp(m->name, name) == 0) return m;
  }
  return NULL;
}

static int find_param(const ParamList *pl, const char *name) {
  for (int i = 0; i < pl->n; i++)
    if (strcmp(pl->v[i].name, name) == 0) return i;
  return -1;
}

static const char *param_names(Cx *c, const ParamList *pl) {
  StrBuf b;
  sb_init(&b);
  for (int i = 0; i < pl->n; i++) sb_printf(&b, "%s%s", i ? ", " : "", pl->v[i].name);
  if (!pl->n) sb_puts(&b, "none");
  const char *s = arena_take_sb(c->a, &b);
  return s;
}

/* ---- block values ---------------------------------------------------------------------------- */

static int is_bound(Value *blk, const char *name) {
  for (int i = 0; i < blk->nbound; i++)
    if (strcmp(blk->bound[i].name, name) == 0) return 1;
  return 0;
}

Value *block_apply(Cx *c, Value *blk, Scope *s, Expr *call) {
  Decl *d = blk->decl;
  Value *r = val_new(c, V_BLOCK);
  *r = *blk;
  r->bound = ARENA_ARRAY(c->a, BoundArg, blk->nbound + call->nargs + 1);
  if (blk->nbound) memcpy(r->bound, blk->bound, sizeof(BoundArg) * (size_t)blk->nbound);
  int next = 0;
  for (int i = 0; i < call->nargs; i++) {
    Arg *g = &call->args[i];
    const char *name = g->name;
    if (!name) { /* positional: the next parameter not bound yet */
      while (next < d->params.n && is_bound(r, d->params.v[next].name)) next++;
      if (next == d->params.n)
        fail(c, g->loc, "too many arguments for block %s (it takes: %s)", d->name, param_names(c, &d->params));
      name = d->params.v[next].name;
    } else if (find_param(&d->params, name) < 0) {
      fail(c, g->loc, "block %s has no parameter '%s' (it takes: %s)", d->name, name, param_names(c, &d->params));
    } else if (is_bound(r, name)) {
      fail(c, g->loc, "argument '%s' of block %s is already bound", name, d->name);
    }
    r->bound[r->nbound].name = name;
    r->bound[r->nbound].loc = g->value->loc;
    r->bound[r->nbound++].value = eval(c, s, g->value);
  }
  return r;
}

/* ---- instantiation ------------------------------------------------------------------------------- */

static Value *check_kind(Cx *c, Value *v, const Param *p, Decl *blk, SrcLoc loc) {
  const char *k = p->kind;
  if (!k || v->kind == V_NONE) return v;
  int ok = 1;
  if (strcmp(k, "int") == 0) {
    int64_t i;
    if (v->kind == V_FLOAT && v->f != (double)(int64_t)v->f) ok = 0;
    else if (value_is_number(v) || (v->kind == V_DIM && dim_is_const(v->dim))) {
      value_as_int(c, v, loc, p->name, &i);
      return val_int(c, i);
    } else ok = 0;
  } else if (strcmp(k, "float") == 0) {
    if (!value_is_number(v)) ok = 0;
    else {
      double f;
      value_as_float(c, v, loc, p->name, &f);
      return val_float(c, f);
    }
  } else if (strcmp(k, "bool") == 0) {
    ok = v->kind == V_BOOL;
  } else if (strcmp(k, "str") == 0) {
    ok = v->kind == V_STR;
  } else if (strcmp(k, "block") == 0) {
    ok = v->kind == V_BLOCK;
  } else {
    IndexSet *set = index_set_find(c, c->main, k); /* NULL: a kind we do not know; any index value */
    ok = v->kind == V_IDX && (!set || v->set == set);
  }
  if (!ok)
    fail(c, loc, "argument '%s'%s%s expects %s, got %s", p->name, blk ? " of block " : "", blk ? blk->name : "", k,
         val_describe(c, v));
  return v;
}

static IrInit eval_init(Cx *c, Scope *s, Expr *e) {
  IrInit in = {INIT_NORMAL, 0.0, 0.02};
  if (!e) return in;
  const char *name = e->kind == E_NAME ? e->name : e->kind == E_CALL && e->lhs->kind == E_NAME ? e->lhs->name : NULL;
  static const struct {
    const char *name;
    InitKind kind;
    int nargs;
  } inits[] = {{"zeros", INIT_ZEROS, 0}, {"ones", INIT_ONES, 0}, {"xavier", INIT_XAVIER, 0}, {"dct", INIT_DCT, 0},
               {"const", INIT_CONST, 1}, {"normal", INIT_NORMAL, 2}, {"uniform", INIT_UNIFORM, 2}};
  for (int i = 0; name && i < COUNT_OF(inits); i++) {
    if (strcmp(inits[i].name, name) != 0) continue;
    int n = e->kind == E_CALL ? e->nargs : 0;
    if (inits[i].kind == INIT_XAVIER && n == 1) { /* xavier(gain) */
      value_as_float(c, eval(c, s, e->args[0].value), e->args[0].value->loc, "the xavier gain", &in.b);
      if (!(in.b > 0) || !isfinite(in.b)) fail(c, e->loc, "xavier: the gain must be positive, got %g", in.b);
      in.kind = INIT_XAVIER;
      in.a = 0;
      return in;
    }
    if (n != inits[i].nargs || (e->kind == E_NAME && inits[i].nargs))
      fail(c, e->loc, "initializer %s takes %d argument%s", name, inits[i].nargs, inits[i].nargs == 1 ? "" : "s");
    in.kind = inits[i].kind;
    in.a = in.b = 0;
    if (n > 0) value_as_float(c, eval(c, s, e->args[0].value), e->args[0].value->loc, "initializer argument", &in.a);
    if (n > 1) value_as_float(c, eval(c, s, e->args[1].value), e->args[1].value->loc, "initializer argument", &in.b);
    if (in.kind == INIT_NORMAL && in.b < 0) fail(c, e->loc, "normal: the standard deviation must not be negative");
    if (in.kind == INIT_UNIFORM && in.b < in.a) fail(c, e->loc, "uniform: the bounds are reversed");
    return in;
  }
  fail(c, e->loc, "unknown initializer (expected zeros, ones, const(v), normal(mean, std), uniform(lo, hi), xavier or dct)");
}

static void member_tensor(Cx *c, Inst *in, Decl *m) {
  if (m->cond) {
    Value *cv = eval(c, in->scope, m->cond);
    if (cv->kind != V_BOOL) fail(c, m->cond->loc, "the condition must be a bool, got %s", val_describe(c, cv));
    if (!cv->i) return;
  }
  IrType t = eval_type(c, in->scope, m->value, 0);
  for (int i = 0; i < t.rank; i++)
    if (t.d[i].add <= 0) fail(c, m->value->loc, "parameter '%s' has a dimension of size %lld", m->name, (long long)t.d[i].add);
  IrInit init = eval_init(c, in->scope, m->init);
  const char *full = arena_printf(c->a, "%s%s", in->prefix, m->name);
  int k = ir_param_add(c->p, in->irmod, full, t, init);
  if (k < 0) fail(c, m->loc, "parameter '%s' is declared twice in module %s", full, c->p->modules.v[in->irmod].name);
  c->p->modules.v[in->irmod].params.v[k].frozen = m->frozen;
  Value *v = val_new(c, V_PARAM);
  v->inst = in;
  v->param = k;
  scope_bind(c, in->scope, m->name, v, m->loc);
}

static void member_module(Cx *c, Inst *in, Decl *m) {
  if (m->nidx > 1) fail(c, m->loc, "a sub-module array takes one index range");
  if (m->cond) {
    Value *cv = eval(c, in->scope, m->cond);
    if (cv->kind != V_BOOL) fail(c, m->cond->loc, "the condition must be a bool, got %s", val_describe(c, cv));
    if (!cv->i) return;
  }
  if (m->nidx == 0) {
    Value *b = eval(c, in->scope, m->value);
    if (b->kind != V_BLOCK) fail(c, m->value->loc, "a module must be made from a block, got %s", val_describe(c, b));
    Value *v = val_new(c, V_INST);
    v->inst = inst_create(c, b, in->irmod, arena_printf(c->a, "%s%s.", in->prefix, m->name),
                          arena_printf(c->a, "%s.%s", in->display, m->name), m->value->loc);
    scope_bind(c, in->scope, m->name, v, m->loc);
    return;
  }
  Value *r = eval(c, in->scope, m->idx[0].set);
  if (r->kind != V_RANGE) fail(c, m->idx[0].loc, "a sub-module array is indexed by a range (0..n), got %s", val_describe(c, r));
  if (r->i != 0 || r->j < 0) fail(c, m->idx[0].loc, "a sub-module array range must be 0..n with n >= 0");
  Value *arr = val_new(c, V_SUBARR);
  arr->n = (int)r->j;
  arr->items = ARENA_ARRAY(c->a, Value *, r->j ? r->j : 1);
  for (int64_t i = 0; i < r->j; i++) {
    Scope *s = scope_new(c, in->scope);
    scope_bind(c, s, m->idx[0].var, val_int(c, i), m->idx[0].loc);
    Value *b = eval(c, s, m->value);
    if (b->kind != V_BLOCK) fail(c, m->value->loc, "a module must be made from a block, got %s", val_describe(c, b));
    arr->items[i] = val_new(c, V_INST);
    arr->items[i]->inst = inst_create(c, b, in->irmod, arena_printf(c->a, "%s%s.%lld.", in->prefix, m->name, (long long)i),
                                      arena_printf(c->a, "%s.%s.%lld", in->display, m->name, (long long)i), m->value->loc);
  }
  scope_bind(c, in->scope, m->name, arr, m->loc);
}

Inst *inst_create(Cx *c, Value *blk, int irmod, const char *prefix, const char *display, SrcLoc loc) {
  if (++c->depth > 64) fail(c, loc, "modules nest more than 64 deep (a block that contains itself?)");
  Decl *d = blk->decl;
  Inst *in = ARENA_NEW(c->a, Inst);
  in->block = d;
  in->unit = blk->unit;
  in->irmod = irmod;
  in->prefix = prefix;
  in->display = display;
  in->scope = scope_new(c, NULL);
  in->scope->unit = blk->unit;
  CallSite cs = {loc, arena_printf(c->a, "instantiation of %s as %s", d->name, display)};
  vec_push(c->a, c->stack, cs);
  for (int i = 0; i < d->params.n; i++) {
    const Param *p = &d->params.v[i];
    Value *v = NULL;
    SrcLoc vloc = loc;
    for (int k = blk->nbound - 1; k >= 0 && !v; k--)
      if (strcmp(blk->bound[k].name, p->name) == 0) {
        v = blk->bound[k].value;
        vloc = blk->bound[k].loc;
      }
    if (!v && p->def) v = eval(c, in->scope, p->def);
    if (!v) fail(c, loc, "missing argument '%s' for block %s", p->name, d->name);
    scope_bind(c, in->scope, p->name, check_kind(c, v, p, d, vloc), p->loc);
  }
  for (int i = 0; i < d->members.n; i++) {
    Decl *m = d->members.v[i];
    if (m->kind != D_METHOD && scope_find_local(in->scope, m->name))
      fail(c, m->loc, "'%s' is already defined in block %s", m->name, d->name);
    switch (m->kind) {
    case D_CONST: scope_bind(c, in->scope, m->name, eval(c, in->scope, m->value), m->loc); break;
    case D_TENSOR: member_tensor(c, in, m); break;
    case D_MODULE: member_module(c, in, m); break;
    case D_METHOD: break;
    default: fail(c, m->loc, "this declaration is not allowed inside a block");
    }
  }
  c->stack.n--;
  c->depth--;
  return in;
}

/* ---- top-level module instances -------------------------------------------------------------------- */

int pattern_match(const char *pat, const char *s) { /* whitespace in either is ignored */
  while (*pat == ' ') pat++;
  while (*s == ' ') s++;
  if (!*pat) return !*s;
  if (*pat == '*') return pattern_match(pat + 1, s) || (*s && pattern_match(pat, s + 1));
  return *s == *pat && pattern_match(pat + 1, s + 1);
}

Inst *moddecl_instance(Cx *c, ModDecl *m, Value **idx, const SrcLoc *locs, SrcLoc loc) {
  int64_t pos[8];
  for (int i = 0; i < m->nsets; i++) {
    IndexSet *set = m->sets[i];
    const char *name = idx[i]->kind == V_IDX ? idx_name(idx[i]) : idx[i]->kind == V_STR ? idx[i]->s : NULL;
    SrcLoc at = locs ? locs[i] : loc;
    if (!name) fail(c, at, "module '%s' is indexed by %s values, got %s", m->decl->name, set->name, val_describe(c, idx[i]));
    pos[i] = -1;
    for (int k = 0; k < set->n; k++)
      if (strcmp(set->values[k], name) == 0) pos[i] = k;
    if (pos[i] < 0) fail(c, at, "unknown index value '%s' for %s (module '%s')", name, set->name, m->decl->name);
  }
  for (int k = 0; k < m->insts.n; k++)
    if (!m->nsets || memcmp(m->insts.v[k]->idx, pos, sizeof(int64_t) * (size_t)m->nsets) == 0) return m->insts.v[k];
  /* a new instance: name it, pick its sync policy, evaluate its block value */
  StrBuf b;
  sb_init(&b);
  sb_puts(&b, m->decl->name);
  for (int i = 0; i < m->nsets; i++) sb_printf(&b, "%s%s", i ? ", " : "[", m->sets[i]->values[pos[i]]);
  if (m->nsets) sb_putc(&b, ']');
  const char *name = arena_take_sb(c->a, &b);
  Scope *s = scope_new(c, NULL);
  s->unit = m->unit;
  for (int i = 0; i < m->nsets; i++) {
    Value *v = val_new(c, V_IDX);
    v->set = m->sets[i];
    v->i = pos[i];
    scope_bind(c, s, m->decl->idx[i].var, v, m->decl->idx[i].loc);
  }
  CallSite cs = {loc, arena_printf(c->a, "first use of module %s", name)};
  vec_push(c->a, c->stack, cs);
  Value *blk = eval(c, s, m->decl->value);
  if (blk->kind != V_BLOCK) fail(c, m->decl->value->loc, "a module must be made from a block, got %s", val_describe(c, blk));
  int irmod = ir_module_add(c->p, name, blk->decl->name);
  for (int i = 0; i < c->env->nsyncs; i++)
    if (pattern_match(c->env->syncs[i].pattern, name)) {
      c->p->modules.v[irmod].sync = c->env->syncs[i].policy;
      break;
    }
  Inst *in = inst_create(c, blk, irmod, "", name, m->decl->value->loc);
  c->stack.n--;
  in->mod = m;
  in->nidx = m->nsets;
  in->idx = ARENA_ARRAY(c->a, int64_t, m->nsets ? m->nsets : 1);
  if (m->nsets) memcpy(in->idx, pos, sizeof(int64_t) * (size_t)m->nsets);
  vec_push(c->a, m->insts, in);
  return in;
}

/* ---- calls ----------------------------------------------------------------------------------------------- */

/* Binds call arguments (evaluated in the caller's scope s) to params, in a new scope. */
static Scope *bind_call(Cx *c, Scope *s, Scope *parent, const ParamList *pl, Expr *call, const char *what) {
  Scope *ns = scope_new(c, parent);
  ns->body = 1;
  Value **vals = ARENA_ARRAY(c->a, Value *, pl->n ? pl->n : 1);
  int npos = 0;
  for (int i = 0; i < call->nargs; i++) {
    Arg *g = &call->args[i];
    int k;
    if (g->name) {
      k = find_param(pl, g->name);
      if (k < 0) fail(c, g->loc, "%s has no parameter '%s' (it takes: %s)", what, g->name, param_names(c, pl));
      if (vals[k]) fail(c, g->loc, "argument '%s' given twice", g->name);
    } else {
      k = npos++;
      if (k >= pl->n) fail(c, g->loc, "%s takes %d argument%s, got %d", what, pl->n, pl->n == 1 ? "" : "s", call->nargs);
    }
    vals[k] = eval(c, s, g->value);
  }
  for (int k = 0; k < pl->n; k++) {
    Value *v = vals[k];
    if (!v && pl->v[k].def) v = eval(c, ns, pl->v[k].def);
    if (!v) fail(c, call->loc, "missing argument '%s' for %s", pl->v[k].name, what);
    scope_bind(c, ns, pl->v[k].name, check_kind(c, v, &pl->v[k], NULL, call->loc), pl->v[k].loc);
  }
  return ns;
}

static Value *run_body(Cx *c, Scope *ns, StmtList *body, const char *what, SrcLoc call_loc, SrcLoc decl_loc) {
  if (++c->depth > 200) fail(c, call_loc, "calls nest more than 200 deep (recursion?)");
  CallSite cs = {call_loc, what};
  vec_push(c->a, c->stack, cs);
  Value *ret = NULL;
  exec_body(c, ns, body, &ret, 0);
  if (!ret) fail(c, decl_loc, "%s ends without 'return'", what);
  c->stack.n--;
  c->depth--;
  return ret;
}

Value *call_method(Cx *c, Scope *s, Inst *inst, Decl *method, Expr *call, SrcLoc loc) {
  const char *what = arena_printf(c->a, "call of %s.%s (block %s)", inst->display, method->name, inst->block->name);
  Scope *ns = bind_call(c, s, inst->scope, &method->params, call, what);
  Inst *saved = c->cur;
  c->cur = inst;
  Value *r = run_body(c, ns, &method->body, what, loc, method->loc);
  c->cur = saved;
  return r;
}

Value *call_fn(Cx *c, Scope *s, Value *fn, Expr *call) {
  const char *what = arena_printf(c->a, "call of fn %s", fn->decl->name);
  Scope *root = scope_new(c, NULL);
  root->unit = fn->unit;
  Scope *ns = bind_call(c, s, root, &fn->decl->params, call, what);
  return run_body(c, ns, &fn->decl->body, what, call->loc, fn->decl->loc);
}

Value *param_use(Cx *c, Value *pv, SrcLoc loc) {
  if (!c->g) fail(c, loc, "parameters can only be used inside a task");
  int mod = pv->inst->irmod;
  for (int i = 0; i + 2 < c->pcache.n; i += 3)
    if (c->pcache.v[i] == mod && c->pcache.v[i + 1] == pv->param) return val_tensor(c, c->pcache.v[i + 2]);
  int id = ir_param_ref(c->p, c->g, mod, pv->param);
  c->g->nodes.v[id].loc = loc;
  c->g->nodes.v[id].owner = mod;
  vec_push(c->a, c->pcache, mod);
  vec_push(c->a, c->pcache, pv->param);
  vec_push(c->a, c->pcache, id);
  return val_tensor(c, id);
}
