/* utf8.h — strict UTF-8 validation for the data pipeline (corpus reader, tests).
 * Rejects overlong forms, surrogates (U+D800..DFFF), code points past U+10FFFF, stray
 * continuation bytes and truncated sequences. */
#ifndef MAMC_DATA_UTF8_H
#define MAMC_DATA_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s[0..len), or 0 when it is invalid. */
int utf8_seq_len(const unsigned char *s, size_t len);

/* Offset of the first byte of the first invalid sequence in s[0..len), or len when all of
 * it is valid UTF-8. */
size_t utf8_check(const char *s, size_t len);

#endif
