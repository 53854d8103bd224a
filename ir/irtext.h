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
 * comments separate lexemes anywhere. Every irl_* that fails reports a diagnostic and
 * returns 0 / NULL; the parser stops at the first error. */
typedef struct IrLex {
  const SrcFile *src;
  const char *s;          /* next character */
  const char *line_start; /* of the current line */
  int line;
  Diag *d;
  Arena *a;
} IrLex;

typedef struct IrlNum {
  int is_int;
  int64_t i;
  double f; /* the value as a double in both cases */
} IrlNum;

void irl_init(IrLex *l, const SrcFile *src, Diag *d, Arena *a);
void irl_skip(IrLex *l);
SrcLoc irl_loc(IrLex *l); /* of the next lexeme */
int irl_peek(IrLex *l);   /* the next character (0 at the end) */
int irl_error(IrLex *l, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4); /* returns 0 */
const char *irl_found(IrLex *l); /* the next lexeme, quoted, for messages */
int irl_accept(IrLex *l, char c);
int irl_accept_str(IrLex *l, const char *s);
int irl_expect(IrLex *l, char c, const char *context); /* "expected 'c' context, found ..." */
int irl_is_word(IrLex *l, const char *w);              /* the next lexeme is exactly word w */
int irl_accept_word(IrLex *l, const char *w);
const char *irl_ident(IrLex *l, const char *what); /* [A-Za-z_][A-Za-z0-9_]*, arena copy */
const char *irl_name(IrLex *l, const char *what);  /* a name (above), arena copy */
int irl_number(IrLex *l, IrlNum *out, const char *what);
int irl_int(IrLex *l, int64_t *out, const char *what);
int irl_float(IrLex *l, double *out, const char *what);
/* type := DTYPE '[' [dim {',' dim}] ']'; dimension symbols are added to p as they appear */
int irl_type(IrLex *l, IrProgram *p, IrType *t);

#endif
