/* elab_task.c — statements, and task instances: one IR graph per task the run
 * configuration lists, with its inputs, its `loss` and named outputs.
 */
#include "elab_internal.h"

static int cond_true(Cx *c, Scope *s, Expr *e) {
  Value *v = eval(c, s, e);
  if (v->kind != V_BOOL) fail(c, e->loc, "a condition must be a compile-time bool, got %s", val_describe(c, v));
  return (int)v->i;
}

static void add_output(Cx *c, const char *name, Value *v, SrcLoc loc) {
  for (int i = 0; i < c->g->outputs.n; i++)
    if (strcmp(c->g->outputs.v[i].name, name) == 0) fail(c, loc, "output '%s' is defined twice", name);
  if (v->kind == V_PARAM) v = param_use(c, v, loc);
  if (v->kind != V_TENSOR) fail(c, loc, "output '%s' must be a tensor, got %s", name, val_describe(c, v));
  ir_output_add(c->p, c->g, name, v->node);
}

/* Runs statements; *ret receives a `return` value (methods and fns). */
void exec_body(Cx *c, Scope *s, StmtList *body, Value **ret, int is_task) {
  for (int i = 0; i < body->n && !*ret; i++) {
    Stmt *st = body->v[i];
    switch (st->kind) {
    case S_ASSIGN: {
      Value *v = eval(c, s, st->value);
      if (is_task && strcmp(st->name, "loss") == 0) {
        if (v->kind == V_TENSOR && node_at(c, v->node)->type.rank != 0)
          fail(c, st->value->loc, "loss must be a scalar, got %s", val_describe(c, v));
        if (v->kind == V_TENSOR && !dtype_is_float(node_at(c, v->node)->type.dt))
          fail(c, st->value->loc, "loss must be a float scalar, got %s", val_describe(c, v));
        add_output(c, "loss", v, st->loc);
      }
      scope_bind(c, s, st->name, v, st->loc);
      break;
    }
    case S_RETURN:
      if (is_task) fail(c, st->loc, "'return' is not allowed in a task (assign 'loss' or use 'output')");
      *ret = eval(c, s, st->value);
      break;
    case S_IF: /* no new scope: names assigned in a branch live on, as in Python */
      exec_body(c, s, cond_true(c, s, st->value) ? &st->body : &st->orelse, ret, is_task); break;
    case S_FOR: {
      Value *r = eval(c, s, st->value);
      if (r->kind != V_RANGE) fail(c, st->value->loc, "'for' needs a range a..b, got %s", val_describe(c, r));
      for (int64_t k = r->i; k < r->j && !*ret; k++) {
        scope_bind(c, s, st->name, val_int(c, k), st->loc); /* the loop variable lives on, as in Python */
        exec_body(c, s, &st->body, ret, is_task);
      }
      break;
    }
    case S_INPUT: {
      if (!is_task) fail(c, st->loc, "'input' is only allowed in a task");
      if (scope_find_local(s, st->name)) fail(c, st->loc, "'%s' is already defined", st->name);
      IrType t = eval_type(c, s, st->value, 1);
      scope_bind(c, s, st->name, val_tensor(c, ir_input_add(c->p, c->g, st->name, t)), st->loc);
      break;
    }
    case S_OUTPUT: {
      if (!is_task) fail(c, st->loc, "'output' is only allowed in a task");
      Value *v = eval(c, s, st->value);
      add_output(c, st->name, v, st->loc);
      scope_bind(c, s, st->name, v, st->loc);
      break;
    }
    case S_EXPR: {
      Value *v = eval(c, s, st->value);
      if (v->kind == V_TENSOR) diag_warning(c->d, st->loc, "the value of this expression is not used");
      break;
    }
    }
  }
}

static Decl *find_task(Cx *c, const char *name) {
  for (int i = 0; i < c->main->ast->decls.n; i++) {
    Decl *d = c->main->ast->decls.v[i];
    if (d->kind == D_TASK && strcmp(d->name, name) == 0) return d;
  }
  return NULL;
}

void elab_task(Cx *c, const FeTask *t) {
  Decl *d = find_task(c, t->tmpl);
  if (!d) fail(c, t->loc, "the model has no task '%s'", t->tmpl);
  if (t->nargs != d->params.n)
    fail(c, t->loc, "task %s takes %d index value%s, got %d", d->name, d->params.n, d->params.n == 1 ? "" : "s", t->nargs);
  Scope *s = scope_new(c, NULL);
  s->unit = c->main;
  s->body = 1;
  for (int i = 0; i < d->params.n; i++) {
    const Param *p = &d->params.v[i];
    IndexSet *set = p->kind ? index_set_find(c, c->main, p->kind) : NULL;
    if (!set) fail(c, p->loc, "task parameter '%s' needs an index set as its kind (e.g. %s: lang)", p->name, p->name);
    int k = -1;
    for (int j = 0; j < set->n; j++)
      if (strcmp(set->values[j], t->args[i]) == 0) k = j;
    if (k < 0) fail(c, t->loc, "unknown index value '%s' for %s (parameter '%s' of task %s)", t->args[i], set->name, p->name, d->name);
    Value *v = val_new(c, V_IDX);
    v->set = set;
    v->i = k;
    scope_bind(c, s, p->name, v, p->loc);
  }
  for (int i = 0; i < c->p->graphs.n; i++) {
    IrGraph *o = &c->p->graphs.v[i];
    int same = strcmp(o->task, d->name) == 0;
    for (int j = 0; same && j < o->nargs; j++) same = strcmp(o->args[j], t->args[j]) == 0;
    if (same) fail(c, t->loc, "task %s is listed twice in the run configuration", ir_graph_name(c->p, o));
  }
  c->gi = ir_graph_add(c->p, d->name, t->nargs, t->args);
  c->g = &c->p->graphs.v[c->gi];
  c->pcache.n = 0;
  CallSite cs = {t->loc, arena_printf(c->a, "task %s", ir_graph_name(c->p, c->g))};
  vec_push(c->a, c->stack, cs);
  Value *ret = NULL;
  exec_body(c, s, &d->body, &ret, 1);
  if (c->g->outputs.n == 0)
    fail(c, d->loc, "task %s defines no 'loss' (and no 'output')", d->name);
  c->stack.n--;
  c->g = NULL;
}
