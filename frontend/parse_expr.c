/* parse_expr.c — .mam expressions (docs/language.md, "Expressions"), plus the token helpers
 * and syntax-error reporting that the whole parser shares (see parse.h).
 *
 * Precedence, low to high: `..` (ranges); `or`; `and`; `not`; comparisons (not chained);
 * `+ -`; `* / // % @`; unary `-`; `**` (right-assoc); postfix: call, index, member, `^T`.
 * A `(` or `[` that starts a new line does not continue the expression before it.
 *
 * Locations: a binary/unary node is at its operator, a call at its callee, an index at its
 * `[`, a member at the member name, a transpose at `^T`, a list at its `[`.
 */
#include "parse.h"

#include <stdlib.h>

/* ---- tokens -------------------------------------------------------------------------------- */

Token *p_peek(Parser *p) { return p->tok; }
Token *p_peek2(Parser *p) { return p->tok->kind == TK_EOF ? p->tok : p->tok + 1; }
Token *p_next(Parser *p) {
  Token *t = p->tok;
  if (t->kind != TK_EOF) p->tok++;
  return t;
}
int p_at(Parser *p, TokKind k) { return p->tok->kind == k; }
int p_accept(Parser *p, TokKind k) {
  if (p->tok->kind != k) return 0;
  p_next(p);
  return 1;
}
void p_skip_seps(Parser *p) {
  while (p_at(p, TK_NEWLINE) || p_at(p, TK_SEMI)) p_next(p);
}

const char *p_loc_str(Parser *p, SrcLoc l) { return arena_printf(p->a, "%d:%d", l.line, l.col); }

const char *p_desc(Parser *p, const Token *t) {
  switch (t->kind) {
  case TK_IDENT: return arena_printf(p->a, "identifier '%s'", t->text);
  case TK_INT: case TK_FLOAT: return arena_printf(p->a, "number '%s'", t->text);
  case TK_STRING: return "a string";
  default: return tok_kind_name(t->kind);
  }
}

/* ---- errors -------------------------------------------------------------------------------- */

static void vreport(Parser *p, SrcLoc loc, const Token *key, const char *found, const char *fmt,
                    va_list ap) {
  p->nerr++;
  if (key && key == p->last_err) return; /* one error per token: the rest are echoes */
  p->last_err = key;
  char msg[1024];
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (found && n >= 0 && (size_t)n < sizeof msg)
    snprintf(msg + n, sizeof msg - (size_t)n, ", found %s", found);
  diag_error(p->d, loc, "%s", msg);
}

void p_report(Parser *p, SrcLoc loc, const Token *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(p, loc, key, NULL, fmt, ap);
  va_end(ap);
}

void p_stop(Parser *p, const Token *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(p, t->loc, t, NULL, fmt, ap);
  va_end(ap);
  longjmp(*p->recover, 1);
}

void p_fail(Parser *p, const Token *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(p, t->loc, t, p_desc(p, t), fmt, ap);
  va_end(ap);
  longjmp(*p->recover, 1);
}

Token *p_expect(Parser *p, TokKind k, const char *ctx) {
  if (p_at(p, k)) return p_next(p);
  p_fail(p, p->tok, "expected %s %s", tok_kind_name(k), ctx);
}

Token *p_expect_close(Parser *p, TokKind close, const Token *open) {
  if (p_at(p, close)) return p_next(p);
  const Token *t = p->tok;
  SrcLoc loc = t->loc;
  const char *found = p_desc(p, t);
  if (t->nl_before && t > p->toks && t->kind != TK_NEWLINE) {
    /* the line ended while the bracket was open: point just past the line's last token */
    const Token *prev = t - 1;
    loc = prev->loc;
    loc.col += prev->len;
    found = "newline";
  }
  p->nerr++;
  if (t != p->last_err) {
    p->last_err = t;
    diag_error(p->d, loc, "expected %s to close %s at %s, found %s", tok_kind_name(close),
               tok_kind_name(open->kind), p_loc_str(p, open->loc), found);
  }
  longjmp(*p->recover, 1);
}

void p_enter(Parser *p, const Token *t) {
  if (++p->depth <= P_MAX_DEPTH) return;
  p_stop(p, t, "nesting is too deep (more than %d levels)", P_MAX_DEPTH);
}

/* One more operator in a left-assoc chain (`a + b + ...`, `x.a.b...`): such chains make the
 * tree as deep as they are long, and later stages walk trees recursively. */
static void chain(Parser *p, int *n, const Token *op) {
  if (++*n > P_MAX_CHAIN)
    p_stop(p, op, "expression is too long (more than %d operators in a row)", P_MAX_CHAIN);
}

Token *p_expect_ident(Parser *p, const char *what) {
  if (p_at(p, TK_IDENT)) return p_next(p);
  if (p->tok->kind >= TK_USE && p->tok->kind <= TK_NOT)
    p_stop(p, p->tok, "expected %s, found keyword %s", what, tok_kind_name(p->tok->kind));
  p_fail(p, p->tok, "expected %s", what);
}

/* ---- nodes --------------------------------------------------------------------------------- */

Expr *p_new_expr(Parser *p, ExprKind k, SrcLoc loc) {
  Expr *e = ARENA_NEW(p->a, Expr);
  e->kind = k;
  e->loc = loc;
  return e;
}

static Expr *binary(Parser *p, const Token *op, Expr *lhs, Expr *rhs) {
  Expr *e = p_new_expr(p, E_BINARY, op->loc);
  e->op = op->kind;
  e->lhs = lhs;
  e->rhs = rhs;
  return e;
}

int p_is_dtype(const char *s) {
  static const char *const dtypes[] = {"f32", "bf16", "f16", "i32", "f64"};
  for (int i = 0; i < COUNT_OF(dtypes); i++)
    if (strcmp(s, dtypes[i]) == 0) return 1;
  return 0;
}

/* ---- argument lists ------------------------------------------------------------------------ */

typedef Vec(Arg) ArgVec;

/* args = (arg ("," arg)* ","?)?      arg = (IDENT ":")? expr
 * `keywords`: whether `name: value` is allowed (calls), else only plain expressions. */
int parse_args(Parser *p, const Token *open, TokKind close, int keywords, Arg **out) {
  ArgVec v = {0};
  int seen_kw = 0;
  while (!p_at(p, close)) {
    Arg arg = {0};
    arg.loc = p->tok->loc;
    if (keywords && p_at(p, TK_IDENT) && p_peek2(p)->kind == TK_COLON) {
      Token *name = p_next(p);
      p_next(p);
      arg.name = name->text;
      for (int i = 0; i < v.n; i++)
        if (v.v[i].name && strcmp(v.v[i].name, arg.name) == 0) {
          p_report(p, name->loc, name, "keyword argument '%s' given twice", arg.name);
          diag_note(p->d, v.v[i].loc, "first given here");
          break;
        }
      seen_kw = 1;
    } else if (seen_kw) {
      p_report(p, arg.loc, p->tok, "positional argument after keyword argument");
    }
    arg.value = parse_expr(p);
    vec_push(p->a, v, arg);
    if (!p_accept(p, TK_COMMA)) break;
  }
  p_expect_close(p, close, open);
  *out = v.v;
  return v.n;
}

/* index = index_arg ("," index_arg)* ","?
 * index_arg = "..." | expr? ":" expr? (":" expr?)? | expr */
static int index_args(Parser *p, const Token *open, Arg **out) {
  ArgVec v = {0};
  if (p_at(p, TK_RBRACK)) p_fail(p, p->tok, "expected an index or a slice");
  while (!p_at(p, TK_RBRACK)) {
    Arg arg = {0};
    arg.loc = p->tok->loc;
    if (p_at(p, TK_ELLIPSIS)) {
      arg.value = p_new_expr(p, E_ELLIPSIS, p_next(p)->loc);
    } else {
      Expr *start = NULL;
      if (!p_at(p, TK_COLON)) start = parse_expr(p);
      if (p_at(p, TK_COLON)) {
        Expr *s = p_new_expr(p, E_SLICE, p_next(p)->loc);
        s->lhs = start;
        if (start) s->loc = start->loc;
        if (!p_at(p, TK_COLON) && !p_at(p, TK_COMMA) && !p_at(p, TK_RBRACK)) s->rhs = parse_expr(p);
        if (p_accept(p, TK_COLON) && !p_at(p, TK_COMMA) && !p_at(p, TK_RBRACK))
          s->step = parse_expr(p);
        arg.value = s;
      } else {
        arg.value = start;
      }
    }
    vec_push(p->a, v, arg);
    if (!p_accept(p, TK_COMMA)) break;
  }
  p_expect_close(p, TK_RBRACK, open);
  *out = v.v;
  return v.n;
}

/* ---- expressions --------------------------------------------------------------------------- */

/* type = DTYPE? "[" (expr ("," expr)* ","?)? "]" */
Expr *parse_type(Parser *p, int need_dtype, const char *after) {
  Token *t = p->tok;
  Expr *e = p_new_expr(p, E_TYPE, t->loc);
  if (t->kind == TK_IDENT && p_peek2(p)->kind == TK_LBRACK) {
    if (!p_is_dtype(t->text))
      p_stop(p, t, "unknown dtype '%s' (the dtypes are f32, bf16, f16, i32 and f64)", t->text);
    e->name = p_next(p)->text;
  } else if (need_dtype && t->kind == TK_LBRACK) {
    p_stop(p, t, "expected a dtype before '[' %s (inputs are written like 'i32[B, S]')", after);
  } else if (need_dtype || t->kind != TK_LBRACK) {
    p_fail(p, t, "expected a tensor type like %s %s", need_dtype ? "'i32[B, S]'" : "'[d, d]'", after);
  }
  Token *open = p_next(p);
  e->nargs = parse_args(p, open, TK_RBRACK, 0, &e->args);
  return e;
}

/* primary = INT | FLOAT | STRING | "true" | "false" | "none" | DTYPE "[" dims "]" | IDENT
 *         | "(" expr ")" | "[" (expr ("," expr)* ","?)? "]" */
static Expr *primary(Parser *p) {
  Token *t = p->tok;
  Expr *e;
  switch (t->kind) {
  case TK_INT:
    e = p_new_expr(p, E_INT, p_next(p)->loc);
    e->ival = t->ival;
    return e;
  case TK_FLOAT:
    e = p_new_expr(p, E_FLOAT, p_next(p)->loc);
    e->fval = t->fval;
    return e;
  case TK_STRING:
    e = p_new_expr(p, E_STR, p_next(p)->loc);
    e->name = t->text;
    return e;
  case TK_TRUE: case TK_FALSE:
    e = p_new_expr(p, E_BOOL, p_next(p)->loc);
    e->ival = t->kind == TK_TRUE;
    return e;
  case TK_NONE:
    return p_new_expr(p, E_NONE, p_next(p)->loc);
  case TK_IDENT: {
    Token *n2 = p_peek2(p);
    if (p_is_dtype(t->text) && n2->kind == TK_LBRACK && !n2->nl_before) return parse_type(p, 1, "");
    e = p_new_expr(p, E_NAME, p_next(p)->loc);
    e->name = t->text;
    return e;
  }
  case TK_LPAREN: {
    Token *open = p_next(p);
    e = parse_expr(p);
    p_expect_close(p, TK_RPAREN, open);
    return e;
  }
  case TK_LBRACK: {
    Token *open = p_next(p);
    e = p_new_expr(p, E_LIST, open->loc);
    e->nargs = parse_args(p, open, TK_RBRACK, 0, &e->args);
    return e;
  }
  case TK_PLUS:
    p_stop(p, t, "expected an expression, found '+' (there is no unary plus)");
  default:
    p_fail(p, t, "expected an expression");
  }
}

/* postfix = primary ("(" args ")" | "[" index "]" | "." IDENT | "^T")*
 * A "(" or "[" at the start of a line begins something new. */
static Expr *postfix(Parser *p) {
  Expr *e = primary(p);
  for (int n = 0;; chain(p, &n, p->tok)) {
    Token *t = p->tok;
    if ((t->kind == TK_LPAREN || t->kind == TK_LBRACK) && t->nl_before) return e;
    if (t->kind == TK_LPAREN) {
      p_next(p);
      Expr *c = p_new_expr(p, E_CALL, e->loc);
      c->lhs = e;
      c->nargs = parse_args(p, t, TK_RPAREN, 1, &c->args);
      e = c;
    } else if (t->kind == TK_LBRACK) {
      p_next(p);
      Expr *x = p_new_expr(p, E_INDEX, t->loc);
      x->lhs = e;
      x->nargs = index_args(p, t, &x->args);
      e = x;
    } else if (t->kind == TK_DOT) {
      p_next(p);
      Token *name = p_expect_ident(p, "a member name after '.'");
      Expr *m = p_new_expr(p, E_MEMBER, name->loc);
      m->lhs = e;
      m->name = name->text;
      e = m;
    } else if (t->kind == TK_TRANSPOSE) {
      p_next(p);
      Expr *x = p_new_expr(p, E_TRANSPOSE, t->loc);
      x->lhs = e;
      e = x;
    } else {
      return e;
    }
  }
}

static Expr *unary(Parser *p);

/* pow = postfix ("**" unary)?      (right-assoc; -x**2 is -(x**2); 2**-1 is allowed) */
static Expr *power(Parser *p) {
  Expr *e = postfix(p);
  if (p_at(p, TK_STARSTAR)) {
    Token *op = p_next(p);
    p_enter(p, op);
    e = binary(p, op, e, unary(p));
    p->depth--;
  }
  return e;
}

/* unary = "-" unary | pow */
static Expr *unary(Parser *p) {
  if (p_at(p, TK_MINUS)) {
    Token *op = p_next(p);
    Expr *e = p_new_expr(p, E_UNARY, op->loc);
    e->op = TK_MINUS;
    p_enter(p, op);
    e->lhs = unary(p);
    p->depth--;
    return e;
  }
  return power(p);
}

static int is_mul(TokKind k) {
  return k == TK_STAR || k == TK_SLASH || k == TK_SLASHSLASH || k == TK_PERCENT || k == TK_AT;
}

/* mul = unary (("*" | "/" | "//" | "%" | "@") unary)* */
static Expr *mul(Parser *p) {
  Expr *e = unary(p);
  for (int n = 0; is_mul(p->tok->kind);) {
    Token *op = p_next(p);
    chain(p, &n, op);
    e = binary(p, op, e, unary(p));
  }
  return e;
}

/* add = mul (("+" | "-") mul)* */
static Expr *add(Parser *p) {
  Expr *e = mul(p);
  for (int n = 0; p_at(p, TK_PLUS) || p_at(p, TK_MINUS);) {
    Token *op = p_next(p);
    chain(p, &n, op);
    e = binary(p, op, e, mul(p));
  }
  return e;
}

static int is_cmp(TokKind k) {
  return k == TK_EQ || k == TK_NE || k == TK_LT || k == TK_LE || k == TK_GT || k == TK_GE;
}

/* cmp = add (("==" | "!=" | "<" | "<=" | ">" | ">=") add)?      (no chains: a < b < c) */
static Expr *compare(Parser *p) {
  Expr *e = add(p);
  if (is_cmp(p->tok->kind)) {
    Token *op = p_next(p);
    e = binary(p, op, e, add(p));
    if (is_cmp(p->tok->kind))
      p_stop(p, p->tok, "comparisons cannot be chained (write 'a < b and b < c')");
  }
  return e;
}

/* not = "not" not | cmp */
static Expr *not_expr(Parser *p) {
  if (p_at(p, TK_NOT)) {
    Token *op = p_next(p);
    Expr *e = p_new_expr(p, E_UNARY, op->loc);
    e->op = TK_NOT;
    p_enter(p, op);
    e->lhs = not_expr(p);
    p->depth--;
    return e;
  }
  return compare(p);
}

/* and = not ("and" not)* */
static Expr *and_expr(Parser *p) {
  Expr *e = not_expr(p);
  for (int n = 0; p_at(p, TK_AND);) {
    Token *op = p_next(p);
    chain(p, &n, op);
    e = binary(p, op, e, not_expr(p));
  }
  return e;
}

/* or = and ("or" and)* */
static Expr *or_expr(Parser *p) {
  Expr *e = and_expr(p);
  for (int n = 0; p_at(p, TK_OR);) {
    Token *op = p_next(p);
    chain(p, &n, op);
    e = binary(p, op, e, and_expr(p));
  }
  return e;
}

/* expr = or (".." or)? */
Expr *parse_expr(Parser *p) {
  p_enter(p, p->tok);
  Expr *e = or_expr(p);
  if (p_at(p, TK_DOTDOT)) {
    Token *op = p_next(p);
    Expr *r = p_new_expr(p, E_RANGE, op->loc);
    r->lhs = e;
    r->rhs = or_expr(p);
    e = r;
  }
  p->depth--;
  return e;
}
