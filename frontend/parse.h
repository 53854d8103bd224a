/* parse.h — private to the parser (parse_expr.c, parse_decl.c): the parser state, token
 * helpers and syntax-error reporting. The public entry point, parse_file, is in ast.h.
 *
 * Error model: a syntax error is reported and then unwinds (longjmp) to the innermost
 * recovery point: the statement, block member or top-level item being parsed. That point
 * skips ahead to a likely resync token (end of line, `}` or the next item) and parsing goes
 * on, so one file can report several errors. Never two errors at the same token.
 */
#ifndef MAMC_PARSE_H
#define MAMC_PARSE_H

#include <setjmp.h>

#include "ast.h"

typedef struct Parser {
  Arena *a;
  Diag *d;
  const SrcFile *src;
  Token *toks; /* ends in TK_EOF */
  int ntok;
  Token *tok;  /* current token; never moves past TK_EOF */
  jmp_buf *recover;      /* innermost recovery point */
  const Token *last_err; /* the token of the last error: no second error there */
  int nerr;
  int depth;             /* nesting of expressions and bodies, bounded by P_MAX_DEPTH */
} Parser;

enum { P_MAX_DEPTH = 200, P_MAX_CHAIN = 1000 };

/* ---- tokens (parse_expr.c) ---- */
Token *p_peek(Parser *p);               /* the current token */
Token *p_peek2(Parser *p);              /* the one after it (TK_EOF at the end) */
Token *p_next(Parser *p);               /* returns the current token and moves on */
int p_at(Parser *p, TokKind k);
int p_accept(Parser *p, TokKind k);     /* consume the token if it is k */
void p_skip_seps(Parser *p);            /* newlines and ';' */
const char *p_desc(Parser *p, const Token *t); /* "identifier 'x'", "')'", "newline", ... */
const char *p_loc_str(Parser *p, SrcLoc l);    /* "3:14" */

/* Syntax error at t: "<message>, found <t>"; unwinds to the recovery point. */
MAMC_NORETURN void p_fail(Parser *p, const Token *t, const char *fmt, ...) MAMC_PRINTF(3, 4);
/* Syntax error at t with the whole message given; unwinds to the recovery point. */
MAMC_NORETURN void p_stop(Parser *p, const Token *t, const char *fmt, ...) MAMC_PRINTF(3, 4);
/* An error that does not stop the parse (duplicates and the like); no ", found". */
void p_report(Parser *p, SrcLoc loc, const Token *key, const char *fmt, ...) MAMC_PRINTF(4, 5);
/* expects kind k: "expected 'k' <ctx>, found ..." */
Token *p_expect(Parser *p, TokKind k, const char *ctx);
/* expects the bracket that closes `open`: "expected ')' to close '(' at 3:14, found newline" */
Token *p_expect_close(Parser *p, TokKind close, const Token *open);
Token *p_expect_ident(Parser *p, const char *what);
/* one level deeper (callers decrement p->depth on the way out; recovery points restore it) */
void p_enter(Parser *p, const Token *t);

/* ---- expressions (parse_expr.c) ---- */
Expr *p_new_expr(Parser *p, ExprKind k, SrcLoc loc);
Expr *parse_expr(Parser *p);
/* the arguments after `open` up to `close`; `keywords`: `name: value` allowed (calls) */
int parse_args(Parser *p, const Token *open, TokKind close, int keywords, Arg **out);
Expr *parse_type(Parser *p, int need_dtype, const char *after); /* [dims] or dtype[dims] */
int p_is_dtype(const char *s);

#endif
