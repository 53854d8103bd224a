/* unicode.c — the little Unicode the metrics need, matching Python (and so sacreBLEU):
 * UTF-8 decoding, str.isspace(), str.rstrip() and str.lower() (lower_table.h). */
#include <stdlib.h>

#include "eval.h"
#include "lower_table.h"

uint32_t eval_utf8_next(const char *str, int *len) {
  const unsigned char *s = (const unsigned char *)str;
  unsigned c = s[0];
  int n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) n = 1; /* truncated: take the byte alone */
  *len = n;
  if (n == 1) return c;
  uint32_t cp = c & (0x7Fu >> n);
  for (int i = 1; i < n; i++) cp = cp << 6 | (s[i] & 0x3Fu);
  return cp;
}

void eval_utf8_put(StrBuf *sb, uint32_t cp) {
  char b[4];
  int n;
  if (cp < 0x80) b[0] = (char)cp, n = 1;
  else if (cp < 0x800) b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000)
    b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3F)), b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  else
    b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | (cp >> 12 & 0x3F)), b[2] = (char)(0x80 | (cp >> 6 & 0x3F)),
    b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  sb_putn(sb, b, (size_t)n);
}

int eval_is_space(uint32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t eval_rstrip_len(const char *line, size_t len) {
  size_t end = 0; /* just past the last non-space code point */
  for (size_t i = 0; i < len;) {
    int n;
    uint32_t cp = eval_utf8_next(line + i, &n);
    i += (size_t)n;
    if (!eval_is_space(cp)) end = i;
  }
  return end;
}

static uint32_t lower_cp(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  int lo = 0, hi = COUNT_OF(lower_ranges) - 1;
  while (lo <= hi) { /* the last range starting at or before cp */
    int mid = (lo + hi) / 2;
    if (lower_ranges[mid].first <= cp) lo = mid + 1;
    else hi = mid - 1;
  }
  if (hi < 0) return cp;
  const LowerRange *r = &lower_ranges[hi];
  if (cp > r->last || (cp - r->first) % r->stride) return cp;
  return (uint32_t)((int32_t)cp + r->delta);
}

static int in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (cp < r[mid][0]) hi = mid - 1;
    else if (cp > r[mid][1]) lo = mid + 1;
    else return 1;
  }
  return 0;
}
static int is_ignorable(uint32_t cp) { return in_ranges(case_ignorable, COUNT_OF(case_ignorable), cp); }
static int is_cased(uint32_t cp) { return in_ranges(case_cased, COUNT_OF(case_cased), cp); }

/* Python's handle_capital_sigma: Σ becomes ς when a cased letter precedes it and none
 * follows it (case-ignorable code points in between are skipped). */
static int final_sigma(const uint32_t *cp, int n, int i) {
  int j = i - 1;
  while (j >= 0 && is_ignorable(cp[j])) j--;
  if (j < 0 || !is_cased(cp[j])) return 0;
  j = i + 1;
  while (j < n && is_ignorable(cp[j])) j++;
  return j == n || !is_cased(cp[j]);
}

void eval_lower(StrBuf *sb, const char *s, size_t len) {
  uint32_t *cp = malloc(sizeof *cp * (len + 1));
  if (!cp) {
    sb->failed = 1;
    return;
  }
  int n = 0;
  for (size_t i = 0; i < len;) {
    int k;
    cp[n++] = eval_utf8_next(s + i, &k);
    i += (size_t)k;
  }
  for (int i = 0; i < n; i++) {
    if (cp[i] == 0x130) { /* İ: i + combining dot above (the full lowercase mapping) */
      sb_putc(sb, 'i');
      eval_utf8_put(sb, 0x307);
    } else if (cp[i] == 0x3A3) {
      eval_utf8_put(sb, final_sigma(cp, n, i) ? 0x3C2 : 0x3C3);
    } else {
      eval_utf8_put(sb, lower_cp(cp[i]));
    }
  }
  free(cp);
}
