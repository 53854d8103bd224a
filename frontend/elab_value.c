/* elab_value.c — compile-time values, scopes and name lookup for the elaborator.
 *
 * Lookup order for a name: the enclosing scopes (a method body's chain ends in its instance's
 * scope: block arguments, consts, params, sub-modules), then — in a body, in call position — the primitive tensor
 * functions, then the file's globals, then the globals of `use`d files (when exactly one
 * defines it). Builtins (`vocab`, `len`) and dtype names come last.
 */
#include "elab_internal.h"

#include <stdlib.h>

Value *val_new(Cx *c, ValueKind k) {
  Value *v = ARENA_NEW(c->a, Value);
  v->kind = k;
  return v;
}
Value *val_int(Cx *c, int64_t i) {
  Value *v = val_new(c, V_INT);
  v->i = i;
  return v;
}
Value *val_float(Cx *c, double f) {
  Value *v = val_new(c, V_FLOAT);
  v->f = f;
  return v;
}
Value *val_bool(Cx *c, int b) {
  Value *v = val_new(c, V_BOOL);
  v->i = b != 0;
  return v;
}
Value *val_none(Cx *c) { return val_new(c, V_NONE); }
Value *val_tensor(Cx *c, int node) {
  Value *v = val_new(c, V_TENSOR);
  v->node = node;
  return v;
}

const char *val_kind_name(ValueKind k) {
  static const char *names[] = {"none", "int", "float", "bool", "string", "dim", "list",
                                "index value", "index set", "range", "block", "fn",
                                "namespace", "module", "module", "module array", "method",
                                "parameter", "tensor", "dtype", "builtin"};
  return (unsigned)k < COUNT_OF(names) ? names[k] : "?";
}

const char *idx_name(const Value *v) { return v->set->values[v->i]; }

const char *val_describe(Cx *c, const Value *v) {
  StrBuf b;
  sb_init(&b);
  switch (v->kind) {
  case V_INT: sb_printf(&b, "int %lld", (long long)v->i); break;
  case V_FLOAT: sb_printf(&b, "float %g", v->f); break;
  case V_BOOL: sb_printf(&b, "bool %s", v->i ? "true" : "false"); break;
  case V_STR: sb_printf(&b, "string \"%s\"", v->s); break;
  case V_DIM: sb_puts(&b, "dim "); ir_print_dim(&b, c->p, v->dim); break;
  case V_IDX: sb_printf(&b, "index value %s (of %s)", idx_name(v), v->set->name); break;
  case V_SET: sb_printf(&b, "index set %s", v->set->name); break;
  case V_BLOCK: sb_printf(&b, "block %s", v->decl->name); break;
  case V_FN: sb_printf(&b, "fn %s", v->decl->name); break;
  case V_MODDECL: sb_printf(&b, "module %s (needs index values)", v->mod->decl->name); break;
  case V_INST: sb_printf(&b, "module %s", v->inst->display); break;
  case V_TENSOR: sb_puts(&b, "tensor "); ir_print_type(&b, c->p, &c->g->nodes.v[v->node].type); break;
  case V_PARAM: {
    IrParam *prm = &c->p->modules.v[v->inst->irmod].params.v[v->param];
    sb_printf(&b, "parameter %s ", prm->name);
    ir_print_type(&b, c->p, &prm->type);
    break;
  }
  default: sb_puts(&b, val_kind_name(v->kind)); break;
  }
  const char *s = arena_take_sb(c->a, &b);
  return s;
}

/* ---- errors --------------------------------------------------------------------------------- */

void fail(Cx *c, SrcLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(c->d, loc, "error", fmt, ap);
  va_end(ap);
  for (int i = c->stack.n - 1; i >= 0; i--)
    diag_note(c->d, c->stack.v[i].loc, "in %s", c->stack.v[i].what);
  longjmp(c->fail, 1);
}

/* ---- scopes ----------------------------------------------------------------------------------- */

Scope *scope_new(Cx *c, Scope *parent) {
  Scope *s = ARENA_NEW(c->a, Scope);
  s->parent = parent;
  if (parent) {
    s->unit = parent->unit;
    s->inst = parent->inst;
    s->body = parent->body;
  }
  return s;
}

Binding *scope_find_local(Scope *s, const char *name) {
  for (Binding *b = s->head; b; b = b->next)
    if (strcmp(b->name, name) == 0) return b;
  return NULL;
}

void scope_bind(Cx *c, Scope *s, const char *name, Value *v, SrcLoc loc) {
  Binding *b = scope_find_local(s, name);
  if (b) { /* rebinding a local (x = f(x)) */
    b->value = v;
    return;
  }
  b = ARENA_NEW(c->a, Binding);
  b->name = name;
  b->value = v;
  b->loc = loc;
  b->next = s->head;
  s->head = b;
}

static Value *lookup_globals(Cx *c, Unit *u, const char *name, SrcLoc loc) {
  Binding *b = scope_find_local(u->globals, name);
  if (b) return b->value;
  Value *found = NULL;
  Unit *from = NULL;
  for (int i = 0; i < u->nuses; i++) {
    Binding *ub = scope_find_local(u->uses[i]->globals, name);
    if (!ub || ub->value->kind == V_UNIT) continue;
    if (found && found != ub->value)
      fail(c, loc, "'%s' is ambiguous: defined in both '%s' and '%s' (write %s.%s)", name, from->name,
           u->uses[i]->name, from->name, name);
    found = ub->value;
    from = u->uses[i];
  }
  return found;
}

Value *scope_lookup(Cx *c, Scope *s, const char *name, SrcLoc loc, int call) {
  Unit *unit = s->unit;
  int body = s->body;
  for (; s; s = s->parent) { /* locals, then arguments, then the instance's members */
    Binding *b = scope_find_local(s, name);
    if (b) return b->value;
  }
  if (body && call && prim_exists(name)) return NULL; /* the caller handles primitives */
  Value *g = unit ? lookup_globals(c, unit, name, loc) : NULL;
  if (g) return g;
  if (strcmp(name, "vocab") == 0 || strcmp(name, "len") == 0) {
    Value *v = val_new(c, V_BUILTIN);
    v->s = name;
    return v;
  }
  DType dt;
  if (dtype_parse(name, &dt)) {
    Value *v = val_new(c, V_DTYPE);
    v->i = dt;
    return v;
  }
  return NULL;
}

IndexSet *index_set_find(Cx *c, Unit *u, const char *name) {
  Value *v = lookup_globals(c, u, name, (SrcLoc){0});
  return v && v->kind == V_SET ? v->set : NULL;
}

/* ---- conversions -------------------------------------------------------------------------------- */

int value_is_number(const Value *v) { return v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_BOOL; }

int value_as_int(Cx *c, Value *v, SrcLoc loc, const char *what, int64_t *out) {
  if (v->kind == V_INT || v->kind == V_BOOL) {
    *out = v->i;
    return 1;
  }
  if (v->kind == V_DIM && dim_is_const(v->dim)) {
    *out = v->dim.add;
    return 1;
  }
  if (v->kind == V_FLOAT && v->f == (double)(int64_t)v->f) {
    *out = (int64_t)v->f;
    return 1;
  }
  fail(c, loc, "%s must be an integer, got %s", what, val_describe(c, v));
}

int value_as_float(Cx *c, Value *v, SrcLoc loc, const char *what, double *out) {
  if (v->kind == V_FLOAT) {
    *out = v->f;
    return 1;
  }
  if (v->kind == V_INT || v->kind == V_BOOL) {
    *out = (double)v->i;
    return 1;
  }
  fail(c, loc, "%s must be a number, got %s", what, val_describe(c, v));
}

Dim value_as_dim(Cx *c, Value *v, SrcLoc loc, const char *what) {
  if (v->kind == V_DIM) return v->dim;
  int64_t i;
  value_as_int(c, v, loc, what, &i);
  if (i < 0) fail(c, loc, "%s must not be negative, got %lld", what, (long long)i);
  return dim_const(i);
}
