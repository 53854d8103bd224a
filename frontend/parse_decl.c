/* parse_decl.c — .mam declarations and statements (docs/language.md, "Items", "Blocks",
 * "Statements"), and parse_file, the parser's entry point. Expressions are in parse_expr.c.
 *
 * Recursive descent; each function is named after the grammar rule written above it.
 * Separators (`sep`) are newlines and `;`; the lexer only emits newlines where a statement
 * may end. Each top-level item, block member and statement is parsed under a recovery point
 * (`guarded`): after a syntax error the parser skips to the end of that line or item and goes
 * on, so a file reports several errors; parse_file returns NULL if there was any.
 */
#include "parse.h"

typedef Vec(Stmt *) StmtVec;
typedef Vec(Decl *) DeclVec;
typedef Vec(Param) ParamVec;

enum { IN_FN, IN_METHOD, IN_TASK };

/* ---- recovery ------------------------------------------------------------------------------ */

/* `task`, `block`, `fn`, `use`, `index` only ever start a top-level item: one at the start of a
 * line ends whatever was left open before it. */
static int at_item_start(Parser *p) {
  TokKind k = p->tok->kind;
  return p->tok->nl_before &&
         (k == TK_TASK || k == TK_BLOCK || k == TK_FN || k == TK_USE || k == TK_INDEX);
}

/* Skips to the end of the current statement: past a separator, or up to a `}` that closes
 * the enclosing body, or up to the next top-level item. */
static void sync_stmt(Parser *p) {
  int depth = 0;
  for (;;) {
    TokKind k = p->tok->kind;
    if (k == TK_EOF || at_item_start(p)) return;
    if ((k == TK_NEWLINE || k == TK_SEMI) && depth == 0) {
      p_next(p);
      return;
    }
    if (k == TK_LBRACE) depth++;
    if (k == TK_RBRACE) {
      if (depth == 0) return;
      depth--;
    }
    p_next(p);
  }
}

/* Skips to the next top-level item: a `task`/`block`/`fn`/`use`/`index`, or a `module` or
 * `const` at the start of a line outside braces. */
static void sync_item(Parser *p) {
  int depth = 0;
  for (;;) {
    const Token *t = p->tok;
    if (t->kind == TK_EOF || at_item_start(p)) return;
    if (depth == 0 && t->nl_before && (t->kind == TK_MODULE || t->kind == TK_CONST)) return;
    if (t->kind == TK_LBRACE) depth++;
    if (t->kind == TK_RBRACE && depth > 0) depth--;
    p_next(p);
  }
}

typedef void *(*ParseFn)(Parser *p, void *ctx);

/* Runs fn under a recovery point; after a syntax error, skips ahead and returns NULL. */
static void *guarded(Parser *p, ParseFn fn, void *ctx, int item_level) {
  jmp_buf here;
  jmp_buf *outer = p->recover;
  int depth = p->depth;
  Token *start = p->tok;
  p->recover = &here;
  if (setjmp(here)) {
    p->recover = outer;
    p->depth = depth;
    if (item_level)
      sync_item(p);
    else
      sync_stmt(p);
    if (p->tok == start) p_next(p); /* always make progress */
    return NULL;
  }
  void *r = fn(p, ctx);
  p->recover = outer;
  return r;
}

/* The end of a statement, member or item: a separator, or (left for the caller) a `}`, the
 * end of the file or the next top-level item. */
static void end_of(Parser *p, const char *what) {
  if (p_accept(p, TK_NEWLINE) || p_accept(p, TK_SEMI)) return;
  if (p_at(p, TK_RBRACE) || p_at(p, TK_EOF) || at_item_start(p)) return;
  p_fail(p, p->tok, "expected a newline or ';' after the %s", what);
}

/* A body reached the end of the file or the next item without its `}`. */
static void missing_close(Parser *p, const Token *open) {
  p_report(p, p->tok->loc, p->tok, "expected '}' to close '{' at %s, found %s",
           p_loc_str(p, open->loc), p_desc(p, p->tok));
}

static Decl *new_decl(Parser *p, DeclKind k, const Token *name) {
  Decl *d = ARENA_NEW(p->a, Decl);
  d->kind = k;
  d->loc = name->loc;
  d->name = name->text;
  return d;
}

/* The `{` of a body. One on the next line is reported, and then taken as meant. */
static Token *open_brace(Parser *p, const char *ctx) {
  if (p_at(p, TK_NEWLINE) && p_peek2(p)->kind == TK_LBRACE) {
    p_report(p, p->tok->loc, p->tok, "expected '{' %s, found newline ('{' must be on the same line)", ctx);
    p_next(p);
  }
  return p_expect(p, TK_LBRACE, ctx);
}

/* ---- statements ---------------------------------------------------------------------------- */

static StmtList body(Parser *p, int where, const char *ctx);

typedef struct StmtCtx {
  StmtVec *out;
  int where;
} StmtCtx;

static Stmt *new_stmt(Parser *p, StmtKind k, SrcLoc loc) {
  Stmt *s = ARENA_NEW(p->a, Stmt);
  s->kind = k;
  s->loc = loc;
  return s;
}

/* if_stmt = "if" expr body ("else" (if_stmt | body))?      (`else` may start the next line) */
static Stmt *if_stmt(Parser *p, int where) {
  Token *kw = p_next(p);
  Stmt *s = new_stmt(p, S_IF, kw->loc);
  s->value = parse_expr(p);
  s->body = body(p, where, "after the condition of 'if'");
  if (p_at(p, TK_NEWLINE) && p_peek2(p)->kind == TK_ELSE) p_next(p);
  if (p_accept(p, TK_ELSE)) {
    if (p_at(p, TK_IF)) {
      p_enter(p, p->tok);
      Stmt *elif = if_stmt(p, where);
      p->depth--;
      s->orelse.n = 1;
      s->orelse.v = ARENA_ARRAY(p->a, Stmt *, 1);
      s->orelse.v[0] = elif;
    } else {
      s->orelse = body(p, where, "or 'if' after 'else'");
    }
  }
  return s;
}

/* input = "input" IDENT ":" type ("," IDENT ":" type)*      (one S_INPUT per name) */
static void input_stmt(Parser *p, StmtVec *out) {
  p_next(p);
  do {
    Token *name = p_expect_ident(p, "an input name after 'input'");
    p_expect(p, TK_COLON, arena_printf(p->a, "after input name '%s'", name->text));
    Stmt *s = new_stmt(p, S_INPUT, name->loc);
    s->name = name->text;
    s->value = parse_type(p, 1, arena_printf(p->a, "after '%s:'", name->text));
    vec_push(p->a, *out, s);
  } while (p_accept(p, TK_COMMA));
}

/* stmt = "return" expr | if_stmt | "for" IDENT "in" expr body | input
 *      | "output" IDENT "=" expr | IDENT "=" expr | expr */
static void *stmt(Parser *p, void *vctx) {
  StmtCtx *c = vctx;
  Token *t = p->tok;
  Stmt *s = NULL;
  switch (t->kind) {
  case TK_RETURN:
    p_next(p);
    s = new_stmt(p, S_RETURN, t->loc);
    s->value = parse_expr(p);
    break;
  case TK_IF:
    s = if_stmt(p, c->where);
    break;
  case TK_FOR: {
    p_next(p);
    s = new_stmt(p, S_FOR, t->loc);
    s->name = p_expect_ident(p, "a loop variable after 'for'")->text;
    p_expect(p, TK_IN, arena_printf(p->a, "after 'for %s'", s->name));
    s->value = parse_expr(p);
    if (s->value->kind != E_RANGE)
      p_report(p, s->value->loc, NULL, "expected a range like '0..n' after 'in'");
    s->body = body(p, c->where, "after the range of 'for'");
    break;
  }
  case TK_INPUT: case TK_OUTPUT:
    if (c->where != IN_TASK) {
      p_stop(p, t, "%s is only allowed inside a task", tok_kind_name(t->kind));
    }
    if (t->kind == TK_INPUT) {
      input_stmt(p, c->out);
      end_of(p, "input declaration");
      return c;
    }
    p_next(p);
    {
      Token *name = p_expect_ident(p, "an output name after 'output'");
      s = new_stmt(p, S_OUTPUT, name->loc);
      s->name = name->text;
      p_expect(p, TK_ASSIGN, arena_printf(p->a, "after 'output %s'", name->text));
      s->value = parse_expr(p);
    }
    break;
  case TK_PARAM: case TK_MODULE: case TK_CONST:
    p_stop(p, t, "%s declarations belong in a block, not in a %s", tok_kind_name(t->kind),
           c->where == IN_TASK ? "task" : c->where == IN_FN ? "fn" : "method");
  default:
    if (t->kind == TK_IDENT && p_peek2(p)->kind == TK_ASSIGN) {
      p_next(p);
      p_next(p);
      s = new_stmt(p, S_ASSIGN, t->loc);
      s->name = t->text;
      s->value = parse_expr(p);
    } else {
      s = new_stmt(p, S_EXPR, t->loc);
      s->value = parse_expr(p);
      s->loc = s->value->loc;
      if (p_at(p, TK_ASSIGN)) {
        p_stop(p, p->tok, "only a plain name can be assigned to");
      }
    }
    break;
  }
  vec_push(p->a, *c->out, s);
  end_of(p, "statement");
  return c;
}

/* body = "{" (sep | stmt)* "}" */
static StmtList body(Parser *p, int where, const char *ctx) {
  Token *open = open_brace(p, ctx);
  p_enter(p, open);
  StmtVec v = {0};
  StmtCtx c = {&v, where};
  for (;;) {
    p_skip_seps(p);
    if (p_accept(p, TK_RBRACE)) break;
    if (p_at(p, TK_EOF) || at_item_start(p)) {
      missing_close(p, open);
      break;
    }
    guarded(p, stmt, &c, 0);
  }
  p->depth--;
  StmtList l = {v.n, v.v};
  return l;
}

/* ---- parameters ---------------------------------------------------------------------------- */

/* params = "(" (param ("," param)* ","?)? ")"
 * param  = IDENT (":" (IDENT | "block"))? ("=" expr)? */
static ParamList params(Parser *p, const char *owner, int is_block, int is_task) {
  Token *open = p_expect(p, TK_LPAREN, arena_printf(p->a, "after '%s'", owner));
  ParamVec v = {0};
  while (!p_at(p, TK_RPAREN)) {
    Token *name = p_expect_ident(p, "a parameter name");
    Param prm = {.name = name->text, .loc = name->loc};
    for (int i = 0; i < v.n; i++)
      if (strcmp(v.v[i].name, prm.name) == 0) {
        p_report(p, name->loc, name, "duplicate parameter '%s'", prm.name);
        diag_note(p->d, v.v[i].loc, "first declared here");
        break;
      }
    if (p_accept(p, TK_COLON)) {
      if (p_at(p, TK_BLOCK))
        prm.kind = "block", p_next(p);
      else
        prm.kind = p_expect_ident(p, arena_printf(p->a, "a kind (int, float, bool, str, block or an index set) after '%s:'", prm.name))->text;
    }
    if (p_at(p, TK_ASSIGN)) {
      Token *eq = p_next(p);
      if (is_task) p_report(p, eq->loc, eq, "task parameters cannot have defaults");
      prm.def = parse_expr(p);
    }
    if (is_block && !prm.kind && !prm.def)
      p_report(p, name->loc, NULL,
               "block parameter '%s' needs a kind (int, float, bool, str, block or an index set) or a default",
               prm.name);
    if (is_task && !prm.kind)
      p_report(p, name->loc, NULL, "task parameter '%s' needs an index set, as in '%s: lang'",
               prm.name, prm.name);
    vec_push(p->a, v, prm);
    if (!p_accept(p, TK_COMMA)) break;
  }
  p_expect_close(p, TK_RPAREN, open);
  ParamList l = {v.n, v.v};
  return l;
}

/* ---- declarations -------------------------------------------------------------------------- */

/* const = "const" IDENT "=" expr */
static Decl *const_decl(Parser *p) {
  p_next(p);
  Token *name = p_expect_ident(p, "a name after 'const'");
  Decl *d = new_decl(p, D_CONST, name);
  p_expect(p, TK_ASSIGN, arena_printf(p->a, "after 'const %s'", name->text));
  d->value = parse_expr(p);
  return d;
}

/* module = "module" IDENT ("[" modidx ("," modidx)* ","? "]")? "=" expr ("if" expr)?
 * modidx = IDENT ":" expr          (an index set name or a range a..b)
 * The condition (in `cond`) makes a sub-module optional, as `param ... if COND` does. */
static Decl *module_decl(Parser *p) {
  p_next(p);
  Token *name = p_expect_ident(p, "a module name after 'module'");
  Decl *d = new_decl(p, D_MODULE, name);
  if (p_at(p, TK_LBRACK)) {
    Token *open = p_next(p);
    Vec(ModuleIndex) v = {0};
    while (!p_at(p, TK_RBRACK)) {
      Token *var = p_expect_ident(p, "an index variable, as in 'l: lang'");
      ModuleIndex mi = {.var = var->text, .loc = var->loc};
      for (int i = 0; i < v.n; i++)
        if (strcmp(v.v[i].var, mi.var) == 0) {
          p_report(p, var->loc, var, "duplicate index variable '%s'", mi.var);
          break;
        }
      p_expect(p, TK_COLON, arena_printf(p->a, "after index variable '%s'", mi.var));
      mi.set = parse_expr(p);
      if (mi.set->kind != E_NAME && mi.set->kind != E_RANGE)
        p_report(p, mi.set->loc, NULL, "expected an index set name or a range like '0..n' for '%s'",
                 mi.var);
      vec_push(p->a, v, mi);
      if (!p_accept(p, TK_COMMA)) break;
    }
    p_expect_close(p, TK_RBRACK, open);
    if (v.n == 0) p_report(p, open->loc, NULL, "a module index list needs at least one 'var: set'");
    d->nidx = v.n;
    d->idx = v.v;
  }
  p_expect(p, TK_ASSIGN, arena_printf(p->a, "after 'module %s%s'", d->name, d->nidx ? "[...]" : ""));
  d->value = parse_expr(p);
  if (p_accept(p, TK_IF)) d->cond = parse_expr(p);
  return d;
}

/* names = "[" (IDENT ("," IDENT)* ","?)? "]" */
static int index_names(Parser *p, const char ***values, SrcLoc **locs) {
  Token *open = p_expect(p, TK_LBRACK, "before the index values");
  Vec(const char *) v = {0};
  Vec(SrcLoc) l = {0};
  while (!p_at(p, TK_RBRACK)) {
    Token *t = p_expect_ident(p, "an index value (a name)");
    vec_push(p->a, v, t->text);
    vec_push(p->a, l, t->loc);
    if (!p_accept(p, TK_COMMA)) break;
  }
  p_expect_close(p, TK_RBRACK, open);
  *values = v.v;
  *locs = l.v;
  return v.n;
}

/* index = "index" IDENT ("from" "config" | "=" names | "=" "{" group (("," | sep) group)* "}")
 * group = IDENT ":" names */
static Decl *index_decl(Parser *p) {
  p_next(p);
  Token *name = p_expect_ident(p, "a name after 'index'");
  Decl *d = new_decl(p, D_INDEX, name);
  if (p_accept(p, TK_FROM)) {
    p_expect(p, TK_CONFIG, "after 'from' (index values come 'from config')");
    d->from_config = 1;
    return d;
  }
  if (!p_at(p, TK_ASSIGN))
    p_fail(p, p->tok, "expected '= [values]', '= { group: [values] }' or 'from config' after 'index %s'",
           name->text);
  p_next(p);
  if (p_at(p, TK_LBRACK)) {
    d->nvalues = index_names(p, &d->values, &d->value_locs);
    return d;
  }
  if (!p_at(p, TK_LBRACE))
    p_fail(p, p->tok, "expected '[' or '{' after 'index %s ='", name->text);
  Token *open = p_next(p);
  d->grouped = 1;
  Vec(IndexGroup) v = {0};
  for (;;) {
    p_skip_seps(p);
    if (p_accept(p, TK_RBRACE)) break;
    if (p_at(p, TK_EOF) || at_item_start(p)) p_expect_close(p, TK_RBRACE, open);
    Token *g = p_expect_ident(p, "a group name, as in 'romance: [fr, es]'");
    IndexGroup grp = {.name = g->text, .loc = g->loc};
    p_expect(p, TK_COLON, arena_printf(p->a, "after group name '%s'", g->text));
    grp.n = index_names(p, &grp.values, &grp.locs);
    vec_push(p->a, v, grp);
    if (p_accept(p, TK_COMMA) || p_at(p, TK_NEWLINE) || p_at(p, TK_SEMI)) continue;
    p_expect_close(p, TK_RBRACE, open);
    break;
  }
  d->ngroups = v.n;
  d->groups = v.v;
  return d;
}

/* tensor = "param" IDENT ":" type ("init" init | "frozen" | "if" expr)*
 * init   = (IDENT | "const") ("(" args ")")? */
static Decl *tensor_decl(Parser *p) {
  p_next(p);
  Token *name = p_expect_ident(p, "a parameter name after 'param'");
  Decl *d = new_decl(p, D_TENSOR, name);
  p_expect(p, TK_COLON, arena_printf(p->a, "after 'param %s'", name->text));
  d->value = parse_type(p, 0, arena_printf(p->a, "after 'param %s:'", name->text));
  for (;;) {
    Token *t = p->tok;
    int dup = (t->kind == TK_INIT && d->init) || (t->kind == TK_FROZEN && d->frozen) ||
              (t->kind == TK_IF && d->cond);
    if (dup) p_stop(p, t, "%s given twice in 'param %s'", tok_kind_name(t->kind), d->name);
    if (p_accept(p, TK_FROZEN)) {
      d->frozen = 1;
    } else if (p_accept(p, TK_IF)) {
      d->cond = parse_expr(p);
    } else if (p_accept(p, TK_INIT)) {
      Token *f = p->tok;
      if (f->kind != TK_IDENT && f->kind != TK_CONST)
        p_fail(p, f, "expected an initializer (zeros, ones, const(v), normal(m, s), uniform(a, b) or xavier) after 'init'");
      p_next(p);
      Expr *e = p_new_expr(p, E_NAME, f->loc);
      e->name = f->kind == TK_CONST ? "const" : f->text;
      if (p_at(p, TK_LPAREN) && !p->tok->nl_before) {
        Token *open = p_next(p);
        Expr *c = p_new_expr(p, E_CALL, f->loc);
        c->lhs = e;
        c->nargs = parse_args(p, open, TK_RPAREN, 1, &c->args);
        e = c;
      }
      d->init = e;
    } else {
      return d;
    }
  }
}

/* method = IDENT params body */
static Decl *method_decl(Parser *p) {
  Token *name = p_next(p);
  Decl *d = new_decl(p, D_METHOD, name);
  d->params = params(p, name->text, 0, 0);
  d->body = body(p, IN_METHOD, arena_printf(p->a, "after the parameters of '%s'", name->text));
  return d;
}

/* member = tensor | module | const | method */
static void *member(Parser *p, void *vout) {
  DeclVec *out = vout;
  Token *t = p->tok;
  Decl *d;
  switch (t->kind) {
  case TK_PARAM: d = tensor_decl(p); break;
  case TK_MODULE: d = module_decl(p); break;
  case TK_CONST: d = const_decl(p); break;
  case TK_INPUT: case TK_OUTPUT:
    p_stop(p, t, "%s is only allowed inside a task", tok_kind_name(t->kind));
  default:
    if (t->kind == TK_IDENT && p_peek2(p)->kind == TK_LPAREN) {
      d = method_decl(p);
      break;
    }
    if (t->kind == TK_IDENT && p_peek2(p)->kind == TK_ASSIGN) {
      p_stop(p, t, "statements belong in a method, such as 'forward(x) { ... }'");
    }
    p_fail(p, t, "expected a block member (param, module, const or a method such as 'forward(x) { ... }')");
  }
  vec_push(p->a, *out, d);
  end_of(p, "declaration");
  return out;
}

/* block = "block" IDENT params "{" (sep | member)* "}" */
static Decl *block_decl(Parser *p) {
  p_next(p);
  Token *name = p_expect_ident(p, "a block name after 'block'");
  Decl *d = new_decl(p, D_BLOCK, name);
  d->params = params(p, arena_printf(p->a, "block %s", name->text), 1, 0);
  Token *open = open_brace(p, arena_printf(p->a, "after the parameters of block '%s'", name->text));
  DeclVec v = {0};
  for (;;) {
    p_skip_seps(p);
    if (p_accept(p, TK_RBRACE)) break;
    if (p_at(p, TK_EOF) || at_item_start(p)) {
      missing_close(p, open);
      break;
    }
    guarded(p, member, &v, 0);
  }
  d->members.n = v.n;
  d->members.v = v.v;
  return d;
}

/* fn = "fn" IDENT params body      task = "task" IDENT params body */
static Decl *fn_or_task(Parser *p, int is_task) {
  Token *kw = p_next(p);
  Token *name = p_expect_ident(p, arena_printf(p->a, "a %s name after %s", is_task ? "task" : "fn",
                                               tok_kind_name(kw->kind)));
  Decl *d = new_decl(p, is_task ? D_TASK : D_FN, name);
  d->params = params(p, arena_printf(p->a, "%s %s", kw->text, name->text), 0, is_task);
  d->body = body(p, is_task ? IN_TASK : IN_FN,
                 arena_printf(p->a, "after the parameters of %s '%s'", kw->text, name->text));
  return d;
}

/* use = "use" IDENT ("." IDENT)* */
static Decl *use_decl(Parser *p) {
  p_next(p);
  Token *first = p_expect_ident(p, "a library name after 'use'");
  Decl *d = new_decl(p, D_USE, first);
  while (p_accept(p, TK_DOT))
    d->name = arena_printf(p->a, "%s.%s", d->name, p_expect_ident(p, "a name after '.'")->text);
  return d;
}

/* item = use | const | index | block | fn | module | task */
static void *item(Parser *p, void *vout) {
  DeclVec *out = vout;
  Token *t = p->tok;
  Decl *d;
  switch (t->kind) {
  case TK_USE: d = use_decl(p); break;
  case TK_CONST: d = const_decl(p); break;
  case TK_INDEX: d = index_decl(p); break;
  case TK_BLOCK: d = block_decl(p); break;
  case TK_FN: d = fn_or_task(p, 0); break;
  case TK_TASK: d = fn_or_task(p, 1); break;
  case TK_MODULE: d = module_decl(p); break;
  case TK_PARAM:
    p_stop(p, t, "'param' is only allowed inside a block");
  case TK_INPUT: case TK_OUTPUT:
    p_stop(p, t, "%s is only allowed inside a task", tok_kind_name(t->kind));
  default:
    p_fail(p, t, "expected a declaration (use, const, index, block, fn, module or task)");
  }
  vec_push(p->a, *out, d);
  end_of(p, "declaration");
  return out;
}

/* file = (sep | item)* EOF */
static AstFile *file(Parser *p) {
  AstFile *f = ARENA_NEW(p->a, AstFile);
  f->src = p->src;
  DeclVec v = {0};
  for (;;) {
    p_skip_seps(p);
    if (p_at(p, TK_EOF)) break;
    guarded(p, item, &v, 1);
  }
  f->decls.n = v.n;
  f->decls.v = v.v;
  return f;
}

static AstFile *parse_tokens(Parser *p) {
  jmp_buf top; /* every item is guarded; this only catches what might escape them */
  p->recover = &top;
  if (setjmp(top)) return NULL;
  return file(p);
}

AstFile *parse_file(Arena *a, Diag *d, const SrcFile *src) {
  /* Without the caller's out-of-memory handler, catch allocation failure here. */
  jmp_buf oom;
  jmp_buf *saved = a->oom;
  if (!saved) {
    if (setjmp(oom)) {
      a->oom = NULL;
      diag_plain(d, "out of memory while parsing '%s'", src->name);
      return NULL;
    }
    a->oom = &oom;
  }
  AstFile *f = NULL;
  int ntok = 0;
  Token *toks = lex(a, d, src, &ntok);
  if (toks) {
    Parser P;
    memset(&P, 0, sizeof P);
    P.a = a;
    P.d = d;
    P.src = src;
    P.toks = P.tok = toks;
    P.ntok = ntok;
    f = parse_tokens(&P);
    if (P.nerr) f = NULL;
  }
  a->oom = saved;
  return f;
}
