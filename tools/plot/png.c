/* png.c — a minimal PNG encoder for `mamc plot`: 8-bit RGB, one IDAT chunk holding a zlib
 * stream of a single fixed-Huffman deflate block (RFC 1951 §3.2.6) whose only matches are
 * repeats at distance 1 (a run of one byte) or 3 (a run of one pixel), after filtering each
 * row with None, Sub or Up, whichever leaves the smallest sum of magnitudes. Charts are mostly
 * flat colour, so this compresses them twenty-fold or more without an LZ77 search.
 */
#include <stdlib.h>

#include "plot.h"

uint32_t png_crc32(const uint8_t *p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

uint32_t png_adler32(const uint8_t *p, size_t n, uint32_t adler) {
  uint32_t a = adler & 0xFFFF, b = adler >> 16;
  for (size_t i = 0; i < n; i++) {
    a = (a + p[i]) % 65521;
    b = (b + a) % 65521;
  }
  return b << 16 | a;
}

/* ---- deflate, fixed Huffman codes ------------------------------------------------------- */
typedef struct Bits {
  StrBuf *out;
  uint32_t acc;
  int n;
} Bits;

static void put_bits(Bits *b, uint32_t v, int n) { /* LSB first, n <= 16 */
  b->acc |= v << b->n;
  b->n += n;
  while (b->n >= 8) {
    sb_putc(b->out, (char)(b->acc & 0xFF));
    b->acc >>= 8;
    b->n -= 8;
  }
}

static void put_code(Bits *b, uint32_t code, int len) { /* Huffman codes go MSB first */
  uint32_t rev = 0;
  for (int i = 0; i < len; i++) rev = rev << 1 | (code >> i & 1);
  put_bits(b, rev, len);
}

static void put_symbol(Bits *b, int sym) { /* the fixed literal/length code */
  if (sym < 144) put_code(b, 0x30 + (uint32_t)sym, 8);
  else if (sym < 256) put_code(b, 0x190 + (uint32_t)(sym - 144), 9);
  else if (sym < 280) put_code(b, (uint32_t)(sym - 256), 7);
  else put_code(b, 0xC0 + (uint32_t)(sym - 280), 8);
}

static void put_match(Bits *b, int len, int dist) { /* 3 <= len <= 258, dist 1..4 */
  static const short base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const unsigned char extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                          2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  int i = 28;
  while (base[i] > len) i--; /* the largest base <= len; 258 has its own code (285) */
  put_symbol(b, 257 + i);
  if (extra[i]) put_bits(b, (uint32_t)(len - base[i]), extra[i]);
  put_code(b, (uint32_t)(dist - 1), 5); /* distance codes 0..3 are distances 1..4 */
}

static void deflate_fixed(StrBuf *out, const uint8_t *p, size_t n) {
  Bits b = {out, 0, 0};
  put_bits(&b, 1, 1); /* BFINAL */
  put_bits(&b, 1, 2); /* BTYPE = 01: fixed Huffman */
  for (size_t i = 0; i < n;) {
    int best = 0, best_d = 0;
    for (int d = 1; d <= 3; d += 2) {
      if (i < (size_t)d) continue;
      int k = 0;
      while (k < 258 && i + (size_t)k < n && p[i + (size_t)k] == p[i + (size_t)k - (size_t)d]) k++;
      if (k > best) best = k, best_d = d;
    }
    if (best >= 3) {
      put_match(&b, best, best_d);
      i += (size_t)best;
    } else {
      put_symbol(&b, p[i++]);
    }
  }
  put_symbol(&b, 256); /* end of block */
  if (b.n) put_bits(&b, 0, 8 - b.n);
}

/* ---- PNG --------------------------------------------------------------------------------- */
static void put_be32(StrBuf *sb, uint32_t v) {
  char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
  sb_putn(sb, b, 4);
}

static void put_chunk(StrBuf *sb, const char *type, const uint8_t *data, size_t n) {
  put_be32(sb, (uint32_t)n);
  size_t at = sb->len;
  sb_putn(sb, type, 4);
  if (n) sb_putn(sb, (const char *)data, n);
  if (sb->failed) return;
  put_be32(sb, png_crc32((const uint8_t *)sb->s + at, n + 4, 0));
}

/* Row y filtered with filter f (0 None, 1 Sub, 2 Up) into dst; returns the sum of |bytes|. */
static long filter_row(const Raster *r, int y, int f, uint8_t *dst) {
  size_t stride = (size_t)r->w * 3;
  const uint8_t *row = r->px + (size_t)y * stride, *up = y ? row - stride : NULL;
  long cost = 0;
  for (size_t i = 0; i < stride; i++) {
    int left = i >= 3 ? row[i - 3] : 0, above = up ? up[i] : 0;
    uint8_t v = (uint8_t)(row[i] - (f == 1 ? left : f == 2 ? above : 0));
    dst[i] = v;
    cost += v < 128 ? v : 256 - v;
  }
  return cost;
}

int png_encode(const Raster *r, StrBuf *out) {
  size_t stride = (size_t)r->w * 3, n = (stride + 1) * (size_t)r->h;
  uint8_t *raw = malloc(n), *tmp = malloc(stride + 1);
  StrBuf z;
  sb_init(&z);
  if (!raw || !tmp) {
    free(raw);
    free(tmp);
    return -1;
  }
  for (int y = 0; y < r->h; y++) {
    uint8_t *dst = raw + (size_t)y * (stride + 1);
    long best = -1;
    for (int f = 0; f < 3; f++) {
      long cost = filter_row(r, y, f, tmp + 1);
      if (best < 0 || cost < best) {
        best = cost;
        tmp[0] = (uint8_t)f;
        memcpy(dst, tmp, stride + 1);
      }
    }
  }
  free(tmp);
  sb_putc(&z, 0x78); /* zlib: deflate, 32K window */
  sb_putc(&z, 0x01); /* no dictionary, fastest; (0x78 * 256 + 0x01) % 31 == 0 */
  deflate_fixed(&z, raw, n);
  put_be32(&z, png_adler32(raw, n, 1));
  free(raw);

  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  sb_putn(out, (const char *)sig, 8);
  uint8_t ihdr[13] = {(uint8_t)(r->w >> 24), (uint8_t)(r->w >> 16), (uint8_t)(r->w >> 8), (uint8_t)r->w,
                      (uint8_t)(r->h >> 24), (uint8_t)(r->h >> 16), (uint8_t)(r->h >> 8), (uint8_t)r->h,
                      8 /* bits */,          2 /* RGB */,           0,                    0,
                      0};
  put_chunk(out, "IHDR", ihdr, sizeof ihdr);
  put_chunk(out, "IDAT", (const uint8_t *)z.s, z.len);
  put_chunk(out, "IEND", NULL, 0);
  int failed = z.failed || out->failed;
  sb_free(&z);
  return failed ? -1 : 0;
}
