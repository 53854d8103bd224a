/* test_plot.c — `mamc plot` without golden images: the fixture metrics file
 * (fixtures/metrics.jsonl: 3 tasks, BLEU/chrF, a restart, a truncated line) is read and
 * rendered, the PNG is written to the build folder (argv[1]) and decoded again by an
 * independent reader here: signature, chunk CRCs (a table-driven CRC-32 of our own), IHDR,
 * the zlib stream (header, inflate of stored and fixed-Huffman blocks, Adler-32) and the
 * row filters; the decoded pixels must equal the raster, and each series' colour must be
 * present. Also: CRC/Adler test vectors, the font, tiny images, files with nothing to plot.
 */
#include <stdlib.h>

#include "plot.h"
#include "test.h"

/* ---- an independent PNG reader ----------------------------------------------------------- */
static uint32_t crc_table_entry(uint32_t n) {
  for (int k = 0; k < 8; k++) n = n & 1 ? 0xEDB88320u ^ (n >> 1) : n >> 1;
  return n;
}

static uint32_t crc32_ref(const uint8_t *p, size_t n) {
  uint32_t table[256], c = 0xFFFFFFFFu;
  for (uint32_t i = 0; i < 256; i++) table[i] = crc_table_entry(i);
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

typedef struct In {
  const uint8_t *p;
  size_t n, pos; /* pos in bits */
  int bad;
} In;

static uint32_t bits(In *in, int k) { /* LSB first */
  uint32_t v = 0;
  for (int i = 0; i < k; i++, in->pos++) {
    if (in->pos / 8 >= in->n) return in->bad = 1, 0;
    v |= (uint32_t)(in->p[in->pos / 8] >> (in->pos % 8) & 1) << i;
  }
  return v;
}

static uint32_t code_bits(In *in, int k, uint32_t v) { /* append k more bits MSB-first */
  for (int i = 0; i < k; i++) v = v << 1 | bits(in, 1);
  return v;
}

static int fixed_symbol(In *in) {
  uint32_t c = code_bits(in, 7, 0);
  if (c <= 0x17) return 256 + (int)c;
  c = code_bits(in, 1, c);
  if (c >= 0x30 && c <= 0xBF) return (int)c - 0x30;
  if (c >= 0xC0 && c <= 0xC7) return 280 + (int)c - 0xC0;
  c = code_bits(in, 1, c);
  return 144 + (int)c - 0x190;
}

/* inflates a zlib stream (stored and fixed-Huffman blocks) into out; returns its length or -1 */
static long inflate_ref(const uint8_t *z, size_t zn, uint8_t *out, size_t cap) {
  static const int lbase[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static const int dbase[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static const int dext[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  if (zn < 6 || (z[0] & 0x0F) != 8 || ((z[0] << 8) | z[1]) % 31 != 0) return -1;
  In in = {z + 2, zn - 6, 0, 0};
  size_t n = 0;
  int final = 0;
  while (!final && !in.bad) {
    final = (int)bits(&in, 1);
    int type = (int)bits(&in, 2);
    if (type == 0) {
      in.pos = (in.pos + 7) / 8 * 8;
      uint32_t len = bits(&in, 16), nlen = bits(&in, 16);
      if ((len ^ 0xFFFF) != nlen || n + len > cap) return -1;
      for (uint32_t i = 0; i < len; i++) out[n++] = (uint8_t)bits(&in, 8);
    } else if (type == 1) {
      for (;;) {
        int sym = fixed_symbol(&in);
        if (in.bad || sym > 285) return -1;
        if (sym < 256) {
          if (n >= cap) return -1;
          out[n++] = (uint8_t)sym;
        } else if (sym == 256) {
          break;
        } else {
          int len = lbase[sym - 257] + (int)bits(&in, lext[sym - 257]);
          int dc = (int)code_bits(&in, 5, 0);
          if (dc > 29) return -1;
          size_t dist = (size_t)dbase[dc] + bits(&in, dext[dc]);
          if (dist > n || n + (size_t)len > cap) return -1;
          for (int i = 0; i < len; i++, n++) out[n] = out[n - dist];
        }
      }
    } else {
      return -1; /* dynamic Huffman: our encoder never writes it */
    }
  }
  if (in.bad) return -1;
  /* Adler-32 of the output, big-endian after the deflate data */
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; i++) a = (a + out[i]) % 65521, b = (b + a) % 65521;
  return be32(z + zn - 4) == (b << 16 | a) ? (long)n : -1;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* decodes an 8-bit RGB PNG into *px (malloc'ed); 0 on success */
static int decode_png(const uint8_t *f, size_t fn, int *w, int *h, uint8_t **px) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  CHECK(fn > 8 && !memcmp(f, sig, 8));
  uint8_t *z = malloc(fn);
  size_t zn = 0, at = 8;
  int seen_end = 0, chunks = 0;
  *w = *h = 0;
  while (at + 12 <= fn && !seen_end) {
    uint32_t len = be32(f + at);
    CHECK(at + 12 + len <= fn);
    if (at + 12 + len > fn) break;
    const uint8_t *type = f + at + 4, *data = f + at + 8;
    CHECK_MSG(crc32_ref(type, len + 4) == be32(data + len), "chunk %.4s: bad CRC", (const char *)type);
    if (!memcmp(type, "IHDR", 4)) {
      CHECK(chunks == 0 && len == 13);
      *w = (int)be32(data), *h = (int)be32(data + 4);
      CHECK(data[8] == 8 && data[9] == 2 && data[10] == 0 && data[11] == 0 && data[12] == 0);
    } else if (!memcmp(type, "IDAT", 4)) {
      memcpy(z + zn, data, len), zn += len;
    } else if (!memcmp(type, "IEND", 4)) {
      seen_end = 1;
      CHECK(len == 0 && at + 12 == fn);
    }
    chunks++;
    at += 12 + len;
  }
  CHECK(seen_end);
  size_t stride = (size_t)*w * 3, raw_n = (stride + 1) * (size_t)*h;
  uint8_t *raw = malloc(raw_n + 1);
  long got = inflate_ref(z, zn, raw, raw_n + 1);
  free(z);
  CHECK_MSG(got == (long)raw_n, "inflated %ld bytes, want %zu", got, raw_n);
  if (got != (long)raw_n) return free(raw), -1;
  *px = malloc(stride * (size_t)*h);
  for (int y = 0; y < *h; y++) {
    int ft = raw[(size_t)y * (stride + 1)];
    const uint8_t *src = raw + (size_t)y * (stride + 1) + 1;
    uint8_t *row = *px + (size_t)y * stride, *up = y ? row - stride : NULL;
    CHECK(ft <= 4);
    for (size_t i = 0; i < stride; i++) {
      int a = i >= 3 ? row[i - 3] : 0, b = up ? up[i] : 0, c = up && i >= 3 ? up[i - 3] : 0;
      int pred = ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2 : ft == 4 ? paeth(a, b, c) : 0;
      row[i] = (uint8_t)(src[i] + pred);
    }
  }
  free(raw);
  return 0;
}

static int count_color(const uint8_t *px, int w, int h, Rgb c) {
  int n = 0;
  for (size_t i = 0; i < (size_t)w * (size_t)h; i++) n += px[3 * i] == c.r && px[3 * i + 1] == c.g && px[3 * i + 2] == c.b;
  return n;
}

/* ---- tests --------------------------------------------------------------------------------- */
static void test_checksums(void) {
  const uint8_t *s = (const uint8_t *)"123456789";
  CHECK(png_crc32(s, 9, 0) == 0xCBF43926u); /* the CRC-32 check value */
  CHECK(crc32_ref(s, 9) == 0xCBF43926u);
  CHECK(png_adler32((const uint8_t *)"Wikipedia", 9, 1) == 0x11E60398u);
}

static void test_font(void) {
  for (int c = 33; c < 127; c++) {
    int ink = 0;
    for (int r = 0; r < FONT_H; r++) ink |= font_glyph_row(c, r);
    CHECK_MSG(ink, "glyph '%c' is blank", c);
  }
  CHECK(font_glyph_row('g', 8) != 0 && font_glyph_row('a', 8) == 0); /* descenders */
  CHECK(font_glyph_row('A', 0) == 0x0E);                               /* ".###." */
  CHECK(font_text_width("ab", 2) == (2 * FONT_CELL_W - 1) * 2);
  CHECK(font_text_width("\xc3\xa9t\xc3\xa9", 1) == 3 * FONT_CELL_W - 1); /* one glyph a character */
}

static void test_metrics(Arena *a, Metrics *m) {
  Diag d;
  diag_init(&d);
  CHECK(metrics_load(a, &d, "tests/plot/fixtures/metrics.jsonl", m) == 0);
  CHECK(d.nwarnings == 1 && strstr(d.out.s, "metrics.jsonl:90:") != NULL); /* the truncated line */
  CHECK(m->skipped == 1);
  CHECK(m->tasks.n == 3 && !strcmp(m->tasks.v[0], "translate-en-de") && !strcmp(m->tasks.v[2], "translate-en-fr"));
  CHECK(plot_panel_count(m) == 4);
  /* the restart at step 300 replaced the first run's points from there on: validation every
   * 50 steps from 0 to 600 is 13 points, increasing */
  for (int k = 0; k < PANEL_COUNT; k++)
    for (int i = 0; i < m->panel[k].n; i++) {
      const Series *s = m->panel[k].v[i];
      for (int j = 1; j < s->x.n; j++) CHECK_MSG(s->x.v[j] > s->x.v[j - 1], "%s: step %g after %g", s->name, s->x.v[j], s->x.v[j - 1]);
      if (k != PANEL_TRAIN_LOSS) CHECK_MSG(s->x.n == 13, "panel %d %s: %d points", k, s->name, s->x.n);
      else CHECK(s->x.n > 0 && s->x.v[s->x.n - 1] >= 590);
    }
  /* the summary series: training loss_avg and the validation mean */
  int summaries = 0;
  for (int k = 0; k < PANEL_COUNT; k++)
    for (int i = 0; i < m->panel[k].n; i++) summaries += m->panel[k].v[i]->task < 0;
  CHECK(summaries == 2);
  diag_free(&d);
}

static void test_render(const Metrics *m, const char *outdir) {
  PlotOpts o = {1200, 800, 0.03, "test"};
  Raster r = {0};
  CHECK(plot_render(m, &o, &r) == 0);
  if (!r.px) return;
  StrBuf png;
  sb_init(&png);
  CHECK(png_encode(&r, &png) == 0);
  char path[1024];
  snprintf(path, sizeof path, "%s/plot_fixture.png", outdir);
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(png.s, 1, png.len, f) == png.len);
  if (f) fclose(f);
  printf("wrote %s (%zu bytes, %.1f%% of the raw pixels)\n", path, png.len, 100.0 * png.len / (3.0 * r.w * r.h));
  CHECK(png.len < (size_t)r.w * (size_t)r.h); /* it compresses (below 1 byte a pixel) */

  /* read it back with the reader above; the pixels must be the raster's */
  f = fopen(path, "rb");
  uint8_t *buf = malloc(png.len + 1);
  size_t n = f ? fread(buf, 1, png.len + 1, f) : 0;
  if (f) fclose(f);
  CHECK(n == png.len);
  int w, h;
  uint8_t *px = NULL;
  if (decode_png(buf, n, &w, &h, &px) == 0) {
    CHECK(w == 1200 && h == 800);
    CHECK(memcmp(px, r.px, (size_t)w * (size_t)h * 3) == 0);
    for (int t = 0; t < m->tasks.n; t++) {
      int k = count_color(px, w, h, plot_task_color(t));
      CHECK_MSG(k > 500, "task %s: %d pixels of its colour", m->tasks.v[t], k);
    }
    CHECK(count_color(px, w, h, plot_task_color(-1)) > 500); /* text and the summary lines */
    CHECK(count_color(px, w, h, (Rgb){255, 255, 255}) > w * h / 2);
  }
  free(px);
  free(buf);
  sb_free(&png);
  raster_free(&r);

  /* tiny and odd sizes still render */
  PlotOpts small = {200, 150, 1.0, NULL};
  CHECK(plot_render(m, &small, &r) == 0);
  raster_free(&r);
}

static void test_nothing(Arena *a) {
  Diag d;
  diag_init(&d);
  Metrics m;
  /* no usable records: not JSON, no type, a type we do not draw, non-finite losses only */
  CHECK(metrics_load_text(a, &d, "x.jsonl",
                          "hello\n{\"step\": 1}\n{\"type\": \"other\", \"step\": 2}\n"
                          "{\"type\": \"train\", \"step\": 3, \"task\": \"t\", \"loss\": nan}\n[1, 2]\n",
                          &m) == 0);
  CHECK(plot_panel_count(&m) == 0);
  CHECK(d.nwarnings == 2);
  Raster r = {0};
  PlotOpts o = {400, 300, 0.03, NULL};
  CHECK(plot_render(&m, &o, &r) == -1 && r.px == NULL);
  /* one point, escapes and UTF-8 in a task name: renders */
  CHECK(metrics_load_text(a, &d, "y.jsonl",
                          "{\"type\": \"valid\", \"step\": 7, \"loss\": {\"en-\\u00e9\\\"x\": 2.5}, \"mean\": 2.5}\n", &m) == 0);
  CHECK(m.tasks.n == 1 && !strcmp(m.tasks.v[0], "en-\xc3\xa9\"x"));
  CHECK(plot_render(&m, &o, &r) == 0);
  if (r.px) CHECK(count_color(r.px, r.w, r.h, plot_task_color(0)) > 0);
  raster_free(&r);
  diag_free(&d);
}

int main(int argc, char **argv) {
  Arena a;
  arena_init(&a);
  Metrics m;
  test_checksums();
  test_font();
  test_metrics(&a, &m);
  test_render(&m, argc > 1 ? argv[1] : ".");
  test_nothing(&a);
  arena_free(&a);
  return test_done();
}
