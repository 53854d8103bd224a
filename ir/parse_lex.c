/* parse_lex.c — the lexical layer of the IR text parser (see irtext.h): names, numbers,
 * punctuation, keywords, whitespace and `#` comments, and located error reports.
 */
#include "irtext.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* ---- names ------------------------------------------------------------------------------- */

int irt_name_char(int c) { return isalnum(c) || c == '_' || c == '.' || c == '-'; }

size_t irt_name_len(const char *s, int *open) {
  size_t n = 0;
  if (open) *open = 0;
  for (;;) {
    if (irt_name_char((unsigned char)s[n])) {
      n++;
    } else if (s[n] == '[') {
      size_t k = n + 1;
      int depth = 1;
      while (depth > 0 && s[k] && s[k] != '\n' && s[k] != '\r') {
        if (s[k] == '[') depth++;
        if (s[k] == ']') depth--;
        k++;
      }
      if (depth > 0) {
        if (open) *open = 1;
        return n;
      }
      n = k;
    } else {
      return n;
    }
  }
}

int irt_name_ok(const char *s) {
  if (!s || !*s) return 0;
  int open;
  return irt_name_len(s, &open) == strlen(s) && !open;
}

/* ---- positions and errors ------------------------------------------------------------------ */

void irl_init(IrLex *l, const SrcFile *src, Diag *d, Arena *a) {
  memset(l, 0, sizeof *l);
  l->src = src;
  l->s = l->line_start = src->text;
  l->line = 1;
  l->d = d;
  l->a = a;
}

void irl_skip(IrLex *l) {
  for (;;) {
    char c = *l->s;
    if (c == '\n') {
      l->s++;
      l->line++;
      l->line_start = l->s;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      l->s++;
    } else if (c == '#') {
      while (*l->s && *l->s != '\n') l->s++;
    } else {
      return;
    }
  }
}

SrcLoc irl_loc(IrLex *l) {
  irl_skip(l);
  return (SrcLoc){l->src, l->line, (int)(l->s - l->line_start) + 1};
}

int irl_peek(IrLex *l) {
  irl_skip(l);
  return (unsigned char)*l->s;
}

int irl_error(IrLex *l, SrcLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(l->d, loc, "error", fmt, ap);
  va_end(ap);
  return 0;
}

const char *irl_found(IrLex *l) {
  irl_skip(l);
  if (!*l->s) return "end of file";
  size_t n = irt_name_len(l->s, NULL);
  if (n == 0) n = 1;
  if (n > 24) return arena_printf(l->a, "'%.24s...'", l->s);
  return arena_printf(l->a, "'%.*s'", (int)n, l->s);
}

/* ---- punctuation and words ------------------------------------------------------------------ */

int irl_accept(IrLex *l, char c) {
  if (irl_peek(l) != (unsigned char)c) return 0;
  l->s++;
  return 1;
}

int irl_accept_str(IrLex *l, const char *s) {
  irl_skip(l);
  size_t n = strlen(s);
  if (strncmp(l->s, s, n) != 0) return 0;
  l->s += n;
  return 1;
}

int irl_expect(IrLex *l, char c, const char *context) {
  if (irl_accept(l, c)) return 1;
  return irl_error(l, irl_loc(l), "expected '%c' %s, found %s", c, context, irl_found(l));
}

int irl_is_word(IrLex *l, const char *w) {
  irl_skip(l);
  size_t n = strlen(w);
  return strncmp(l->s, w, n) == 0 && !irt_name_char((unsigned char)l->s[n]) && l->s[n] != '[';
}

int irl_accept_word(IrLex *l, const char *w) {
  if (!irl_is_word(l, w)) return 0;
  l->s += strlen(w);
  return 1;
}

const char *irl_ident(IrLex *l, const char *what) {
  irl_skip(l);
  const char *s = l->s;
  if (!isalpha((unsigned char)*s) && *s != '_') {
    irl_error(l, irl_loc(l), "expected %s, found %s", what, irl_found(l));
    return NULL;
  }
  size_t n = 1;
  while (isalnum((unsigned char)s[n]) || s[n] == '_') n++;
  l->s += n;
  return arena_strndup(l->a, s, n);
}

const char *irl_name(IrLex *l, const char *what) {
  irl_skip(l);
  int open;
  size_t n = irt_name_len(l->s, &open);
  if (open) {
    SrcLoc at = irl_loc(l);
    at.col += (int)n;
    irl_error(l, at, "unclosed '[' in %s", what);
    return NULL;
  }
  if (n == 0) {
    irl_error(l, irl_loc(l), "expected %s, found %s", what, irl_found(l));
    return NULL;
  }
  const char *s = l->s;
  l->s += n;
  return arena_strndup(l->a, s, n);
}

/* ---- numbers -------------------------------------------------------------------------------
 * A number lexeme: an optional sign, then name characters, with a sign allowed right after
 * an exponent 'e'/'E' (1e-05). It must be wholly an integer (strtoll) or a float (strtod,
 * which also takes nan and inf). */
int irl_number(IrLex *l, IrlNum *out, const char *what) {
  SrcLoc loc = irl_loc(l);
  const char *s = l->s;
  size_t n = 0;
  if (s[n] == '-' || s[n] == '+') n++;
  size_t digits = n;
  while (isalnum((unsigned char)s[n]) || s[n] == '.' || s[n] == '_' ||
         ((s[n] == '-' || s[n] == '+') && n > digits && (s[n - 1] == 'e' || s[n - 1] == 'E')))
    n++;
  if (n == digits) return irl_error(l, loc, "expected %s, found %s", what, irl_found(l));
  char buf[64];
  if (n >= sizeof buf) return irl_error(l, loc, "expected %s, found %s", what, irl_found(l));
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  errno = 0;
  long long iv = strtoll(buf, &end, 10);
  if (*end == 0) {
    if (errno == ERANGE) return irl_error(l, loc, "integer %s is out of range", buf);
    out->is_int = 1;
    out->i = iv;
    out->f = strtod(buf, NULL); /* keeps the sign of -0 */
    l->s += n;
    return 1;
  }
  errno = 0;
  double fv = strtod(buf, &end);
  if (*end != 0) return irl_error(l, loc, "expected %s, found '%s'", what, buf);
  if (errno == ERANGE && (fv == HUGE_VAL || fv == -HUGE_VAL))
    return irl_error(l, loc, "number %s is out of range", buf);
  out->is_int = 0;
  out->i = 0;
  out->f = fv;
  l->s += n;
  return 1;
}

int irl_int(IrLex *l, int64_t *out, const char *what) {
  SrcLoc loc = irl_loc(l);
  const char *start = l->s;
  IrlNum v;
  if (!irl_number(l, &v, what)) return 0;
  if (!v.is_int) return irl_error(l, loc, "expected %s, found '%.*s'", what, (int)(l->s - start), start);
  *out = v.i;
  return 1;
}

int irl_float(IrLex *l, double *out, const char *what) {
  IrlNum v;
  if (!irl_number(l, &v, what)) return 0;
  *out = v.f;
  return 1;
}

/* ---- types --------------------------------------------------------------------------------- */

/* dim := ['-'] term {('+' | '-') term}    term := INT ['*' SYM] | SYM ['*' INT]
 * folded to mul*SYM + add; at most one symbol. */
static int irl_dim(IrLex *l, IrProgram *p, Dim *out) {
  SrcLoc loc = irl_loc(l);
  int32_t sym = -1;
  int64_t mul = 0, add = 0, sign = irl_accept(l, '-') ? -1 : 1;
  for (;;) {
    int64_t coef = 1, v = 0;
    int32_t s = -1;
    SrcLoc tloc = irl_loc(l);
    int c = irl_peek(l);
    if (isdigit(c)) {
      if (!irl_int(l, &v, "a dimension")) return 0;
      if (irl_accept(l, '*')) {
        const char *name = irl_ident(l, "a dimension symbol after '*'");
        if (!name) return 0;
        s = ir_sym(p, name);
        coef = v;
      }
    } else if (isalpha(c) || c == '_') {
      s = ir_sym(p, irl_ident(l, "a dimension symbol"));
      if (irl_accept(l, '*') && !irl_int(l, &coef, "an integer after '*'")) return 0;
    } else {
      return irl_error(l, tloc, "expected a dimension (like 512, T, T-1 or 2*T+1), found %s", irl_found(l));
    }
    if (s >= 0) {
      if (sym >= 0 && sym != s)
        return irl_error(l, tloc, "a dimension may use only one symbol, found %s and %s", p->syms.v[sym],
                         p->syms.v[s]);
      sym = s;
      mul += sign * coef;
    } else {
      add += sign * v;
    }
    /* terms and sums stay within +-2^40, so nothing here or in the shape rules overflows */
    const int64_t big = (int64_t)1 << 40;
    if (coef < -big || coef > big || v > big || mul < -big || mul > big || add < -big || add > big)
      return irl_error(l, tloc, "dimension out of range (at most 2^40)");
    if (irl_accept(l, '+'))
      sign = 1;
    else if (irl_accept(l, '-'))
      sign = -1;
    else
      break;
  }
  if (mul == 0 && add < 0) return irl_error(l, loc, "dimension %lld is negative", (long long)add);
  *out = mul == 0 ? dim_const(add) : (Dim){sym, mul, add};
  return 1;
}

/* type := DTYPE '[' [dim {',' dim}] ']' */
int irl_type(IrLex *l, IrProgram *p, IrType *t) {
  SrcLoc loc = irl_loc(l);
  const char *dn = irl_ident(l, "a type (like f32[B, S])");
  if (!dn) return 0;
  DType dt;
  if (!dtype_parse(dn, &dt))
    return irl_error(l, loc, "unknown dtype '%s' (expected f32, bf16, f16, i32 or f64)", dn);
  memset(t, 0, sizeof *t);
  t->dt = dt;
  if (!irl_expect(l, '[', "after the dtype")) return 0;
  if (irl_accept(l, ']')) return 1;
  do {
    if (t->rank == IR_MAX_RANK)
      return irl_error(l, irl_loc(l), "a type has at most %d dimensions", IR_MAX_RANK);
    if (!irl_dim(l, p, &t->d[t->rank++])) return 0;
  } while (irl_accept(l, ','));
  return irl_expect(l, ']', "to close the shape");
}
