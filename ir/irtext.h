/* irtext.h — private to the IR text form (ir/print.c, ir/parse.c, ir/parse_lex.c) and the
 * verifier (ir/verify.c): the lexical rules the printer, the parser and the verifier must
 * agree on, and the small lexer the parser is written on. Not part of the public IR API.
 */
#ifndef MAMC_IRTEXT_H
#define MAMC_IRTEXT_H

#include "ir.h"

/* `: TYPE` of a node line starts at this 0-based column (one space later if the left part
 * is longer), as in the sketch atop ir.h. */
enum { IRT_TYPE_COL = 52 };

/* ---- names -------------------------------------------------------------------------------
 * A name (module, parameter, group, value, input, output, task, task argument) is one or
 * more of: a name character [A-Za-z0-9_.-], or a bracket group `[...]` (nested brackets
 * balanced; anything but a newline inside), so `enc[en, fr]` and `l0.attn.wq` are names. */
int irt_name_char(int c);
/* Length of the name at s (0: none). *open is set when a bracket group is not closed on
 * its line (the name then ends before that '['). */
size_t irt_name_len(const char *s, int *open);
/* s is exactly one name: what the printer can write so that the parser reads it back. */
int irt_name_ok(const char *s);

/* The canonical attribute rule: an attribute is written when its value differs from the
 * schema default; a required attribute, and an `=none` one, when it is set. */
int irt_attr_printed(const AttrSpec *s, const AttrVal *v);

/* Number of node `id` in the text (inputs are %name; other nodes count from 0). */
int irt_node_number(const IrGraph *g, int id);

/* ---- lexer (ir/parse_lex.c) ---------------------------------------------------------------
 * Scannerless: the parser asks for what it expects next. Whitespace, newlines and `#`
 * comments separate lexemes anywhere. Every lx_* that fails reports a diagnostic and
 * returns 0 / NULL; the parser stops at the first error. */
typedef struct Lex {
  const SrcFile *src;
  const char *s;          /* next character */
  const char *line_start; /* of the current line */
  int line;
  Diag *d;
  Arena *a;
} Lex;

typedef struct LxNum {
  int is_int;
  int64_t i;
  double f; /* the value as a double in both cases */
} LxNum;

void lx_init(Lex *l, const SrcFile *src, Diag *d, Arena *a);
void lx_skip(Lex *l);
SrcLoc lx_loc(Lex *l); /* of the next lexeme */
int lx_peek(Lex *l);   /* the next character (0 at the end) */
int lx_error(Lex *l, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4); /* returns 0 */
const char *lx_found(Lex *l); /* the next lexeme, quoted, for messages */
int lx_accept(Lex *l, char c);
int lx_accept_str(Lex *l, const char *s);
int lx_expect(Lex *l, char c, const char *context); /* "expected 'c' context, found ..." */
int lx_is_word(Lex *l, const char *w);              /* the next lexeme is exactly word w */
int lx_accept_word(Lex *l, const char *w);
const char *lx_ident(Lex *l, const char *what); /* [A-Za-z_][A-Za-z0-9_]*, arena copy */
const char *lx_name(Lex *l, const char *what);  /* a name (above), arena copy */
int lx_number(Lex *l, LxNum *out, const char *what);
int lx_int(Lex *l, int64_t *out, const char *what);
int lx_float(Lex *l, double *out, const char *what);
/* type := DTYPE '[' [dim {',' dim}] ']'; dimension symbols are added to p as they appear */
int lx_type(Lex *l, IrProgram *p, IrType *t);

#endif
