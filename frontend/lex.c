/* lex.c — the .mam tokenizer (docs/language.md, "Lexical structure").
 *
 * Turns a SrcFile into an array of Tokens ending in TK_EOF. Comments and blanks vanish;
 * newlines become TK_NEWLINE only where a statement may end:
 *   - not inside `( )` or `[ ]` (but yes inside `{ }`),
 *   - not after a token that cannot end a statement (a binary operator, `,`, `=`, `:`, `.`,
 *     `->`, `not`, `{`), and never twice in a row.
 * Every token records whether a newline preceded it (`nl_before`), so the parser can tell that
 * a `(` or `[` starting a line does not continue the previous expression.
 *
 * Error recovery (only matters for bad input): a line that starts with a statement keyword
 * (`task`, `return`, `param`, ...) inside an unclosed `(`/`[`, or after a dangling operator,
 * still gets its NEWLINE and closes those brackets, so one missing `)` does not swallow the
 * rest of the file. Mismatched closing brackets are left to the parser to report.
 *
 * Columns are 1-based byte columns. All memory comes from the caller's Arena.
 */
#include <math.h>
#include <stdlib.h>

#include "ast.h"

/* ---- token names ------------------------------------------------------------------------- */

static const char *const tok_spelling[TK_COUNT] = {
  [TK_USE] = "use", [TK_CONST] = "const", [TK_INDEX] = "index", [TK_FROM] = "from",
  [TK_CONFIG] = "config", [TK_BLOCK] = "block", [TK_FN] = "fn", [TK_MODULE] = "module",
  [TK_PARAM] = "param", [TK_INIT] = "init", [TK_FROZEN] = "frozen", [TK_IF] = "if",
  [TK_ELSE] = "else", [TK_FOR] = "for", [TK_IN] = "in", [TK_RETURN] = "return",
  [TK_INPUT] = "input", [TK_OUTPUT] = "output", [TK_TASK] = "task", [TK_TRUE] = "true",
  [TK_FALSE] = "false", [TK_NONE] = "none", [TK_AND] = "and", [TK_OR] = "or", [TK_NOT] = "not",
  [TK_LPAREN] = "(", [TK_RPAREN] = ")", [TK_LBRACK] = "[", [TK_RBRACK] = "]",
  [TK_LBRACE] = "{", [TK_RBRACE] = "}", [TK_COMMA] = ",", [TK_COLON] = ":", [TK_SEMI] = ";",
  [TK_DOT] = ".", [TK_DOTDOT] = "..", [TK_ASSIGN] = "=", [TK_EQ] = "==", [TK_NE] = "!=",
  [TK_LT] = "<", [TK_LE] = "<=", [TK_GT] = ">", [TK_GE] = ">=", [TK_PLUS] = "+",
  [TK_MINUS] = "-", [TK_STAR] = "*", [TK_SLASH] = "/", [TK_SLASHSLASH] = "//",
  [TK_PERCENT] = "%", [TK_AT] = "@", [TK_STARSTAR] = "**", [TK_TRANSPOSE] = "^T",
  [TK_ARROW] = "->", [TK_ELLIPSIS] = "...",
};

static const char *const tok_names[TK_COUNT] = {
  [TK_USE] = "'use'", [TK_CONST] = "'const'", [TK_INDEX] = "'index'", [TK_FROM] = "'from'",
  [TK_CONFIG] = "'config'", [TK_BLOCK] = "'block'", [TK_FN] = "'fn'",
  [TK_MODULE] = "'module'", [TK_PARAM] = "'param'", [TK_INIT] = "'init'",
  [TK_FROZEN] = "'frozen'", [TK_IF] = "'if'", [TK_ELSE] = "'else'", [TK_FOR] = "'for'",
  [TK_IN] = "'in'", [TK_RETURN] = "'return'", [TK_INPUT] = "'input'",
  [TK_OUTPUT] = "'output'", [TK_TASK] = "'task'", [TK_TRUE] = "'true'",
  [TK_FALSE] = "'false'", [TK_NONE] = "'none'", [TK_AND] = "'and'", [TK_OR] = "'or'",
  [TK_NOT] = "'not'", [TK_LPAREN] = "'('", [TK_RPAREN] = "')'", [TK_LBRACK] = "'['",
  [TK_RBRACK] = "']'", [TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_COMMA] = "','",
  [TK_COLON] = "':'", [TK_SEMI] = "';'", [TK_DOT] = "'.'", [TK_DOTDOT] = "'..'",
  [TK_ASSIGN] = "'='", [TK_EQ] = "'=='", [TK_NE] = "'!='", [TK_LT] = "'<'", [TK_LE] = "'<='",
  [TK_GT] = "'>'", [TK_GE] = "'>='", [TK_PLUS] = "'+'", [TK_MINUS] = "'-'", [TK_STAR] = "'*'",
  [TK_SLASH] = "'/'", [TK_SLASHSLASH] = "'//'", [TK_PERCENT] = "'%'", [TK_AT] = "'@'",
  [TK_STARSTAR] = "'**'", [TK_TRANSPOSE] = "'^T'", [TK_ARROW] = "'->'",
  [TK_ELLIPSIS] = "'...'", [TK_EOF] = "end of file", [TK_NEWLINE] = "newline",
  [TK_IDENT] = "identifier", [TK_INT] = "integer", [TK_FLOAT] = "number",
  [TK_STRING] = "string",
};

const char *tok_kind_name(TokKind k) {
  return (k >= 0 && k < TK_COUNT && tok_names[k]) ? tok_names[k] : "token";
}

/* ---- lexer state ---------------------------------------------------------------------------- */

typedef struct Lexer {
  Arena *a;
  Diag *d;
  const SrcFile *src;
  const char *p, *end;
  const char *line_start;
  int line;
  Vec(Token) toks;
  Vec(char) open; /* stack of open brackets: '(' '[' '{' */
  int pending_nl; /* a newline was crossed since the last token */
  int nerr;
} Lexer;

static SrcLoc loc_at(const Lexer *L, const char *p) {
  SrcLoc l = {L->src, L->line, (int)(p - L->line_start) + 1};
  return l;
}

static void lex_error(Lexer *L, SrcLoc loc, const char *fmt, ...) MAMC_PRINTF(3, 4);
static void lex_error(Lexer *L, SrcLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(L->d, loc, "error", fmt, ap);
  va_end(ap);
  L->nerr++;
}

static int is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

/* Length of a valid UTF-8 sequence at p (storing its code point), or 0 if invalid. */
static int utf8_decode(const char *p, const char *end, unsigned *cp) {
  const unsigned char *s = (const unsigned char *)p;
  long avail = (long)(end - p);
  unsigned c = s[0], min;
  int n;
  if (c < 0x80) { *cp = c; return 1; }
  if (c >= 0xC2 && c <= 0xDF) { n = 2; c &= 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; c &= 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; c &= 0x07; min = 0x10000; }
  else return 0;
  if (avail < n) return 0;
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return n;
}

/* ---- newline placement ---------------------------------------------------------------------- */

/* Tokens after which a statement cannot end, so a following newline is not a terminator. */
static int continues_line(TokKind k) {
  switch (k) {
  case TK_OR: case TK_AND: case TK_NOT: case TK_EQ: case TK_NE: case TK_LT: case TK_LE:
  case TK_GT: case TK_GE: case TK_PLUS: case TK_MINUS: case TK_STAR: case TK_SLASH:
  case TK_SLASHSLASH: case TK_PERCENT: case TK_AT: case TK_STARSTAR: case TK_DOTDOT:
  case TK_COMMA: case TK_ASSIGN: case TK_COLON: case TK_DOT: case TK_ARROW: case TK_LBRACE:
  case TK_NEWLINE:
    return 1;
  default:
    return 0;
  }
}

/* Keywords that only ever start a statement or declaration: when one begins a line, that line
 * is a new statement whatever is left open before it (recovery from a missing `)` or operand). */
static int starts_statement(TokKind k) {
  switch (k) {
  case TK_USE: case TK_CONST: case TK_INDEX: case TK_BLOCK: case TK_FN: case TK_MODULE:
  case TK_PARAM: case TK_TASK: case TK_INPUT: case TK_OUTPUT: case TK_RETURN: case TK_IF:
  case TK_FOR:
    return 1;
  default:
    return 0;
  }
}

static int in_parens(const Lexer *L) {
  return L->open.n > 0 && L->open.v[L->open.n - 1] != '{';
}

/* Called when the token `next` (kind only matters; TK_EOF at the end) follows a newline. */
static void place_newline(Lexer *L, TokKind next) {
  if (L->toks.n == 0) return;
  const Token *prev = &L->toks.v[L->toks.n - 1];
  if (starts_statement(next)) {
    while (in_parens(L)) L->open.n--; /* recovery: the brackets were never closed */
    if (prev->kind == TK_NEWLINE || prev->kind == TK_LBRACE) return;
  } else if (in_parens(L) || continues_line(prev->kind)) {
    return;
  }
  Token nl = {0};
  nl.kind = TK_NEWLINE;
  nl.loc = prev->loc;
  nl.loc.col += prev->len;
  nl.text = "\\n";
  vec_push(L->a, L->toks, nl);
}

/* Pops the bracket stack for a closing bracket; a mismatch is left for the parser to report. */
static void close_bracket(Lexer *L, char open) {
  int i = L->open.n - 1;
  while (i >= 0 && L->open.v[i] != open && !(open != '{' && L->open.v[i] == '{')) i--;
  if (i >= 0 && L->open.v[i] == open) L->open.n = i;
}

static void push_token(Lexer *L, Token t) {
  t.nl_before = L->pending_nl;
  if (L->pending_nl) place_newline(L, t.kind);
  L->pending_nl = 0;
  if (!t.text) t.text = tok_spelling[t.kind];
  vec_push(L->a, L->toks, t);
  switch (t.kind) {
  case TK_LPAREN: vec_push(L->a, L->open, '('); break;
  case TK_LBRACK: vec_push(L->a, L->open, '['); break;
  case TK_LBRACE:
    while (in_parens(L)) L->open.n--; /* recovery: braces never occur inside ( ) or [ ] */
    vec_push(L->a, L->open, '{');
    break;
  case TK_RPAREN: close_bracket(L, '('); break;
  case TK_RBRACK: close_bracket(L, '['); break;
  case TK_RBRACE: close_bracket(L, '{'); break;
  default: break;
  }
}

/* ---- blanks and comments -------------------------------------------------------------------- */

static void newline(Lexer *L, const char *nl) {
  L->line++;
  L->line_start = nl + 1;
  L->pending_nl = 1;
}

static void skip_blanks(Lexer *L) {
  while (L->p < L->end) {
    char c = *L->p;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      L->p++;
    } else if (c == '\n') {
      newline(L, L->p);
      L->p++;
    } else if (c == '#') {
      while (L->p < L->end && *L->p != '\n') L->p++;
    } else if (c == '/' && L->p + 1 < L->end && L->p[1] == '*') {
      SrcLoc open = loc_at(L, L->p);
      L->p += 2;
      for (;;) {
        if (L->p >= L->end) {
          lex_error(L, open, "unterminated comment: '/*' has no matching '*/'");
          return;
        }
        if (*L->p == '*' && L->p + 1 < L->end && L->p[1] == '/') {
          L->p += 2;
          break;
        }
        if (*L->p == '\n') newline(L, L->p);
        L->p++;
      }
    } else {
      return;
    }
  }
}

/* ---- numbers ------------------------------------------------------------------------------- */

/* number = digits ("." digits)? (("e"|"E") ("+"|"-")? digits)?   (decimal only) */
static void lex_number(Lexer *L, Token *t) {
  const char *s = L->p, *q = s;
  int is_float = 0;
  const char *why = NULL;
  while (q < L->end && is_digit(*q)) q++;
  if (q + 1 < L->end && q[0] == '.' && is_digit(q[1])) {
    is_float = 1;
    q++;
    while (q < L->end && is_digit(*q)) q++;
  }
  if (q < L->end && (*q == 'e' || *q == 'E')) {
    const char *e = q + 1;
    if (e < L->end && (*e == '+' || *e == '-')) e++;
    if (e < L->end && is_digit(*e)) {
      is_float = 1;
      while (e < L->end && is_digit(*e)) e++;
      q = e;
    } else {
      why = "the exponent has no digits";
    }
  }
  if (!why && q + 1 < L->end && q[0] == '.' && is_digit(q[1]))
    why = "a number has at most one '.'";
  else if (!why && q < L->end && is_ident_char(*q))
    why = (q - s == 1 && s[0] == '0' && (*q == 'x' || *q == 'X' || *q == 'b' || *q == 'o'))
              ? "only decimal numbers are supported"
              : "a number cannot be followed by a letter";
  if (why) {
    /* the bad spelling: the whole run of letters, digits, '.'-digit pairs and exponent signs */
    for (;;) {
      if (q < L->end && is_ident_char(*q))
        q++;
      else if (q + 1 < L->end && *q == '.' && is_digit(q[1]))
        q++;
      else if (q + 1 < L->end && (*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E') &&
               is_digit(q[1]))
        q++;
      else
        break;
    }
    lex_error(L, loc_at(L, s), "invalid number '%.*s': %s", (int)(q - s), s, why);
    t->kind = TK_COUNT; /* dropped */
    L->p = q;
    return;
  }
  t->len = (int)(q - s);
  t->text = arena_strndup(L->a, s, (size_t)(q - s));
  if (is_float) {
    t->kind = TK_FLOAT;
    t->fval = strtod(t->text, NULL);
    if (isinf(t->fval)) {
      lex_error(L, loc_at(L, s), "number '%s' is out of range for a float", t->text);
      t->kind = TK_COUNT;
    }
  } else {
    t->kind = TK_INT;
    int64_t v = 0;
    for (const char *c = s; c < q; c++) {
      int dgt = *c - '0';
      if (v > (INT64_MAX - dgt) / 10) {
        lex_error(L, loc_at(L, s), "integer '%s' is too large (the largest is %lld)", t->text,
                  (long long)INT64_MAX);
        t->kind = TK_COUNT;
        break;
      }
      v = v * 10 + dgt;
    }
    t->ival = v;
  }
  L->p = q;
}

/* ---- strings ------------------------------------------------------------------------------- */

/* string = '"' (char | '\"' | '\\' | '\n' | '\t')* '"'   (no newline inside) */
static void lex_string(Lexer *L, Token *t) {
  const char *s = L->p, *q = s + 1;
  const char *eol = memchr(s, '\n', (size_t)(L->end - s));
  /* the contents are never longer than the rest of the line */
  char *out = arena_alloc(L->a, (size_t)((eol ? eol : L->end) - s) + 1);
  size_t n_out = 0;
  int ok = 1;
  for (;;) {
    if (q >= L->end || *q == '\n') {
      lex_error(L, loc_at(L, s), "unterminated string: missing '\"' before the end of the %s",
                q >= L->end ? "file" : "line");
      ok = 0;
      break;
    }
    if (*q == '"') {
      q++;
      break;
    }
    if (*q == '\\') {
      char e = q + 1 < L->end ? q[1] : 0;
      switch (e) {
      case '"': out[n_out++] = '"'; break;
      case '\\': out[n_out++] = '\\'; break;
      case 'n': out[n_out++] = '\n'; break;
      case 't': out[n_out++] = '\t'; break;
      case '\n': case 0:
        q++; /* a '\' ending the line: the string is unterminated (next iteration) */
        continue;
      default: {
        unsigned cp;
        int n = utf8_decode(q + 1, L->end, &cp);
        lex_error(L, loc_at(L, q), "unknown escape sequence '\\%.*s' (allowed: \\\" \\\\ \\n \\t)",
                  n ? n : 1, q + 1);
        ok = 0;
        break;
      }
      }
      q += 2;
      continue;
    }
    out[n_out++] = *q++;
  }
  out[n_out] = 0;
  t->kind = ok ? TK_STRING : TK_COUNT;
  t->len = (int)(q - s);
  t->text = out;
  L->p = q;
}

/* ---- punctuation --------------------------------------------------------------------------- */

static int lex_punct(Lexer *L, Token *t) {
  static const struct { const char *s; TokKind k; } ops[] = {
    /* longest first */
    {"...", TK_ELLIPSIS}, {"..", TK_DOTDOT}, {"==", TK_EQ}, {"!=", TK_NE}, {"<=", TK_LE},
    {">=", TK_GE}, {"//", TK_SLASHSLASH}, {"**", TK_STARSTAR}, {"->", TK_ARROW},
    {"(", TK_LPAREN}, {")", TK_RPAREN}, {"[", TK_LBRACK}, {"]", TK_RBRACK},
    {"{", TK_LBRACE}, {"}", TK_RBRACE}, {",", TK_COMMA}, {":", TK_COLON}, {";", TK_SEMI},
    {".", TK_DOT}, {"=", TK_ASSIGN}, {"<", TK_LT}, {">", TK_GT}, {"+", TK_PLUS},
    {"-", TK_MINUS}, {"*", TK_STAR}, {"/", TK_SLASH}, {"%", TK_PERCENT}, {"@", TK_AT},
  };
  size_t avail = (size_t)(L->end - L->p);
  for (int i = 0; i < COUNT_OF(ops); i++) {
    size_t n = strlen(ops[i].s);
    if (n <= avail && memcmp(L->p, ops[i].s, n) == 0) {
      t->kind = ops[i].k;
      t->len = (int)n;
      L->p += n;
      return 1;
    }
  }
  return 0;
}

/* `^T` transposes; `^` followed by anything else is an error (powers are `**`). */
static void lex_caret(Lexer *L, Token *t) {
  const char *s = L->p;
  if (s + 1 < L->end && s[1] == 'T' && !(s + 2 < L->end && is_ident_char(s[2]))) {
    t->kind = TK_TRANSPOSE;
    t->len = 2;
    L->p += 2;
    return;
  }
  lex_error(L, loc_at(L, s), "'^' must be followed by 'T' (x^T transposes; powers are written '**')");
  t->kind = TK_COUNT;
  L->p++;
}

/* A character that starts no token: name it, with a hint where one is obvious. */
static void lex_stray(Lexer *L, Token *t) {
  const char *s = L->p;
  unsigned char c = (unsigned char)*s;
  unsigned cp;
  int n = utf8_decode(s, L->end, &cp);
  SrcLoc loc = loc_at(L, s);
  t->kind = TK_COUNT;
  if (n == 0) {
    lex_error(L, loc, "invalid UTF-8 byte 0x%02x", c);
    L->p++;
    return;
  }
  L->p += n;
  const char *hint = "";
  switch (c) {
  case '!': hint = " (negation is 'not')"; break;
  case '&': hint = " (use 'and')"; break;
  case '|': hint = " (use 'or')"; break;
  case '\'': hint = " (strings use double quotes)"; break;
  case '\\': hint = " (a line continues by itself inside brackets or after an operator)"; break;
  default: break;
  }
  if (c >= 0x80)
    lex_error(L, loc, "stray character '%.*s' (U+%04X) outside a string or comment", n, s, cp);
  else if (c < 0x20 || c == 0x7f)
    lex_error(L, loc, "stray control character U+%04X", cp);
  else
    lex_error(L, loc, "stray character '%c'%s", c, hint);
}

/* ---- driver -------------------------------------------------------------------------------- */

static TokKind keyword(const char *s, size_t n) {
  for (int k = TK_USE; k <= TK_NOT; k++)
    if (strlen(tok_spelling[k]) == n && memcmp(tok_spelling[k], s, n) == 0) return (TokKind)k;
  return TK_IDENT;
}

static void lex_all(Lexer *L) {
  for (;;) {
    skip_blanks(L);
    if (L->p >= L->end) break;
    Token t = {0};
    t.loc = loc_at(L, L->p);
    char c = *L->p;
    if (is_ident_start(c)) {
      const char *s = L->p;
      while (L->p < L->end && is_ident_char(*L->p)) L->p++;
      size_t n = (size_t)(L->p - s);
      t.kind = keyword(s, n);
      t.len = (int)n;
      if (t.kind == TK_IDENT) t.text = arena_strndup(L->a, s, n);
    } else if (is_digit(c)) {
      lex_number(L, &t);
    } else if (c == '"') {
      lex_string(L, &t);
    } else if (c == '^') {
      lex_caret(L, &t);
    } else if (!lex_punct(L, &t)) {
      lex_stray(L, &t);
    }
    if (t.kind != TK_COUNT) push_token(L, t);
  }
  /* end of input ends the last statement */
  Token eof = {0};
  eof.kind = TK_EOF;
  eof.text = "";
  if (L->pending_nl) place_newline(L, TK_EOF);
  if (L->toks.n) {
    const Token *last = &L->toks.v[L->toks.n - 1];
    eof.loc = last->loc;
    eof.loc.col += last->len;
  } else {
    eof.loc = (SrcLoc){L->src, 1, 1};
  }
  eof.nl_before = L->pending_nl;
  vec_push(L->a, L->toks, eof);
}

Token *lex(Arena *a, Diag *d, const SrcFile *src, int *ntok) {
  Lexer L;
  memset(&L, 0, sizeof L);
  L.a = a;
  L.d = d;
  L.src = src;
  L.p = L.line_start = src->text;
  L.end = src->text + src->len;
  L.line = 1;
  /* Without the caller's out-of-memory handler, catch allocation failure here. */
  jmp_buf oom;
  jmp_buf *saved = a->oom;
  if (!saved) {
    if (setjmp(oom)) {
      a->oom = NULL;
      diag_plain(d, "out of memory while reading '%s'", src->name);
      if (ntok) *ntok = 0;
      return NULL;
    }
    a->oom = &oom;
  }
  lex_all(&L);
  a->oom = saved;
  if (ntok) *ntok = L.nerr ? 0 : L.toks.n;
  return L.nerr ? NULL : L.toks.v;
}
