/* utf8.c — strict UTF-8 validation (see utf8.h; table 3-7 of the Unicode standard). */
#include "utf8.h"

int utf8_seq_len(const unsigned char *s, size_t len) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  if (c < 0xC2 || c > 0xF4) return 0; /* continuation bytes, overlong 2-byte leads, > U+10FFFF */
  int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
  if (c == 0xE0) lo = 0xA0;      /* overlong 3-byte forms */
  if (c == 0xED) hi = 0x9F;      /* surrogates */
  if (c == 0xF0) lo = 0x90;      /* overlong 4-byte forms */
  if (c == 0xF4) hi = 0x8F;      /* past U+10FFFF */
  if (len < (size_t)n) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (int i = 2; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return n;
}

size_t utf8_check(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    int n = utf8_seq_len(s + i, len - i);
    if (!n) return i;
    i += (size_t)n;
  }
  return len;
}
