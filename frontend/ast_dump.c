/* ast_dump.c — a compact, deterministic S-expression form of a parsed .mam file, for golden
 * tests (tests/frontend_syntax/) and debugging. Locations are not printed.
 *
 * Declarations and statements go one per line, indented by nesting; expressions stay on one
 * line. Forms:
 *   (use nn) (const d 512) (index lang (from config)) (index l (values en fr))
 *   (index family (groups (romance fr es) (germanic en de)))
 *   (module enc (idx l:lang) EXPR)          (module core EXPR)   (module g EXPR (if COND))
 *   (block Name (params din:int bias:bool=true attn=softmax) MEMBER...)
 *   (param w (type _ din dout) (init xavier) frozen (if bias))   [dtype `_`: not written]
 *   (method forward (params x mask=none) STMT...)   (fn f (params x) STMT...)   (task ...)
 *   (= y EXPR) (return EXPR) (input src TYPE) (output y EXPR) (expr EXPR)
 *   (if COND (then STMT...) (else STMT...))   (for i (.. 0 n) STMT...)
 * Expressions: 42 0.5 "s" true none name (. x name) ([] x args) (: start end step) ...
 *   (call f args :key value) (- x) (not x) (+ a b) (^T x) (list a b) (.. a b) (type i32 B S)
 * with `_` for an absent part.
 */
#include <math.h>
#include <stdlib.h>

#include "ast.h"

static void dump_expr(StrBuf *b, const Expr *e);

static void indent(StrBuf *b, int n) {
  sb_putc(b, '\n');
  for (int i = 0; i < n; i++) sb_putc(b, ' ');
}

/* The shortest spelling that reads back as the same double, in plain notation for
 * magnitudes 1e-5..1e16, always with a '.' or an exponent. */
static void dump_float(StrBuf *b, double v) {
  char buf[64];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
    if (strtod(buf, NULL) == v) break;
  }
  snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
  const char *e = strchr(buf, 'e');
  int exp10 = e ? atoi(e + 1) : 0;
  if (isfinite(v) && exp10 >= -5 && exp10 < 16) {
    int frac = prec - 1 - exp10;
    snprintf(buf, sizeof buf, "%.*f", frac > 0 ? frac : 0, v);
  }
  sb_puts(b, buf);
  if (!strpbrk(buf, ".eEn")) sb_puts(b, ".0"); /* "n": inf, nan */
}

static void dump_string(StrBuf *b, const char *s) {
  sb_putc(b, '"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') sb_printf(b, "\\%c", c);
    else if (c == '\n') sb_puts(b, "\\n");
    else if (c == '\t') sb_puts(b, "\\t");
    else if (c < 0x20 || c == 0x7f) sb_printf(b, "\\x%02x", c);
    else sb_putc(b, (char)c);
  }
  sb_putc(b, '"');
}

static void dump_opt(StrBuf *b, const Expr *e) {
  if (e) dump_expr(b, e);
  else sb_putc(b, '_');
}

static void dump_args(StrBuf *b, int n, const Arg *args) {
  for (int i = 0; i < n; i++) {
    sb_putc(b, ' ');
    if (args[i].name) sb_printf(b, ":%s ", args[i].name);
    dump_opt(b, args[i].value);
  }
}

static const char *op_name(TokKind k) {
  switch (k) {
  case TK_OR: return "or";
  case TK_AND: return "and";
  case TK_NOT: return "not";
  case TK_EQ: return "==";
  case TK_NE: return "!=";
  case TK_LT: return "<";
  case TK_LE: return "<=";
  case TK_GT: return ">";
  case TK_GE: return ">=";
  case TK_PLUS: return "+";
  case TK_MINUS: return "-";
  case TK_STAR: return "*";
  case TK_SLASH: return "/";
  case TK_SLASHSLASH: return "//";
  case TK_PERCENT: return "%";
  case TK_AT: return "@";
  case TK_STARSTAR: return "**";
  default: return "?";
  }
}

static void dump_expr(StrBuf *b, const Expr *e) {
  switch (e->kind) {
  case E_INT: sb_printf(b, "%lld", (long long)e->ival); break;
  case E_FLOAT: dump_float(b, e->fval); break;
  case E_STR: dump_string(b, e->name ? e->name : ""); break;
  case E_BOOL: sb_puts(b, e->ival ? "true" : "false"); break;
  case E_NONE: sb_puts(b, "none"); break;
  case E_NAME: sb_puts(b, e->name); break;
  case E_ELLIPSIS: sb_puts(b, "..."); break;
  case E_MEMBER:
    sb_puts(b, "(. ");
    dump_opt(b, e->lhs);
    sb_printf(b, " %s)", e->name);
    break;
  case E_INDEX:
    sb_puts(b, "([] ");
    dump_opt(b, e->lhs);
    dump_args(b, e->nargs, e->args);
    sb_putc(b, ')');
    break;
  case E_SLICE:
    sb_puts(b, "(: ");
    dump_opt(b, e->lhs);
    sb_putc(b, ' ');
    dump_opt(b, e->rhs);
    sb_putc(b, ' ');
    dump_opt(b, e->step);
    sb_putc(b, ')');
    break;
  case E_CALL:
    sb_puts(b, "(call ");
    dump_opt(b, e->lhs);
    dump_args(b, e->nargs, e->args);
    sb_putc(b, ')');
    break;
  case E_UNARY:
    sb_printf(b, "(%s ", op_name(e->op));
    dump_opt(b, e->lhs);
    sb_putc(b, ')');
    break;
  case E_BINARY:
    sb_printf(b, "(%s ", op_name(e->op));
    dump_opt(b, e->lhs);
    sb_putc(b, ' ');
    dump_opt(b, e->rhs);
    sb_putc(b, ')');
    break;
  case E_TRANSPOSE:
    sb_puts(b, "(^T ");
    dump_opt(b, e->lhs);
    sb_putc(b, ')');
    break;
  case E_LIST:
    sb_puts(b, "(list");
    dump_args(b, e->nargs, e->args);
    sb_putc(b, ')');
    break;
  case E_RANGE:
    sb_puts(b, "(.. ");
    dump_opt(b, e->lhs);
    sb_putc(b, ' ');
    dump_opt(b, e->rhs);
    sb_putc(b, ')');
    break;
  case E_TYPE:
    sb_printf(b, "(type %s", e->name ? e->name : "_");
    dump_args(b, e->nargs, e->args);
    sb_putc(b, ')');
    break;
  }
}

/* ---- statements ---------------------------------------------------------------------------- */

static void dump_stmts(StrBuf *b, StmtList l, int ind);

static void dump_stmt(StrBuf *b, const Stmt *s, int ind) {
  indent(b, ind);
  switch (s->kind) {
  case S_ASSIGN: sb_printf(b, "(= %s ", s->name); break;
  case S_RETURN: sb_puts(b, "(return "); break;
  case S_INPUT: sb_printf(b, "(input %s ", s->name); break;
  case S_OUTPUT: sb_printf(b, "(output %s ", s->name); break;
  case S_EXPR: sb_puts(b, "(expr "); break;
  case S_IF:
    sb_puts(b, "(if ");
    dump_opt(b, s->value);
    indent(b, ind + 2);
    sb_puts(b, "(then");
    dump_stmts(b, s->body, ind + 4);
    sb_putc(b, ')');
    if (s->orelse.n) {
      indent(b, ind + 2);
      sb_puts(b, "(else");
      dump_stmts(b, s->orelse, ind + 4);
      sb_putc(b, ')');
    }
    sb_putc(b, ')');
    return;
  case S_FOR:
    sb_printf(b, "(for %s ", s->name);
    dump_opt(b, s->value);
    dump_stmts(b, s->body, ind + 2);
    sb_putc(b, ')');
    return;
  }
  dump_opt(b, s->value);
  sb_putc(b, ')');
}

static void dump_stmts(StrBuf *b, StmtList l, int ind) {
  for (int i = 0; i < l.n; i++) dump_stmt(b, l.v[i], ind);
}

/* ---- declarations -------------------------------------------------------------------------- */

static void dump_params(StrBuf *b, ParamList l) {
  sb_puts(b, " (params");
  for (int i = 0; i < l.n; i++) {
    const Param *p = &l.v[i];
    sb_printf(b, " %s", p->name);
    if (p->kind) sb_printf(b, ":%s", p->kind);
    if (p->def) {
      sb_putc(b, '=');
      dump_expr(b, p->def);
    }
  }
  sb_putc(b, ')');
}

static void dump_names(StrBuf *b, int n, const char **v) {
  for (int i = 0; i < n; i++) sb_printf(b, " %s", v[i]);
}

static void dump_decl(StrBuf *b, const Decl *d, int ind) {
  indent(b, ind);
  switch (d->kind) {
  case D_USE: sb_printf(b, "(use %s)", d->name); return;
  case D_CONST:
    sb_printf(b, "(const %s ", d->name);
    dump_opt(b, d->value);
    sb_putc(b, ')');
    return;
  case D_INDEX:
    sb_printf(b, "(index %s ", d->name);
    if (d->from_config) {
      sb_puts(b, "(from config)");
    } else if (d->grouped) {
      sb_puts(b, "(groups");
      for (int i = 0; i < d->ngroups; i++) {
        sb_printf(b, " (%s", d->groups[i].name);
        dump_names(b, d->groups[i].n, d->groups[i].values);
        sb_putc(b, ')');
      }
      sb_putc(b, ')');
    } else {
      sb_puts(b, "(values");
      dump_names(b, d->nvalues, d->values);
      sb_putc(b, ')');
    }
    sb_putc(b, ')');
    return;
  case D_MODULE:
    sb_printf(b, "(module %s ", d->name);
    if (d->nidx) {
      sb_puts(b, "(idx");
      for (int i = 0; i < d->nidx; i++) {
        sb_printf(b, " %s:", d->idx[i].var);
        dump_opt(b, d->idx[i].set);
      }
      sb_puts(b, ") ");
    }
    dump_opt(b, d->value);
    if (d->cond) {
      sb_puts(b, " (if ");
      dump_expr(b, d->cond);
      sb_putc(b, ')');
    }
    sb_putc(b, ')');
    return;
  case D_TENSOR:
    sb_printf(b, "(param %s ", d->name);
    dump_opt(b, d->value);
    if (d->init) {
      sb_puts(b, " (init ");
      dump_expr(b, d->init);
      sb_putc(b, ')');
    }
    if (d->frozen) sb_puts(b, " frozen");
    if (d->cond) {
      sb_puts(b, " (if ");
      dump_expr(b, d->cond);
      sb_putc(b, ')');
    }
    sb_putc(b, ')');
    return;
  case D_BLOCK:
    sb_printf(b, "(block %s", d->name);
    dump_params(b, d->params);
    for (int i = 0; i < d->members.n; i++) dump_decl(b, d->members.v[i], ind + 2);
    sb_putc(b, ')');
    return;
  case D_FN: case D_TASK: case D_METHOD:
    sb_printf(b, "(%s %s", d->kind == D_FN ? "fn" : d->kind == D_TASK ? "task" : "method", d->name);
    dump_params(b, d->params);
    dump_stmts(b, d->body, ind + 2);
    sb_putc(b, ')');
    return;
  }
}

void ast_dump(StrBuf *b, const AstFile *f) {
  sb_puts(b, "(file");
  for (int i = 0; i < f->decls.n; i++) dump_decl(b, f->decls.v[i], 2);
  sb_puts(b, ")\n");
}
