/* plot.h — what `mamc plot` is made of (tools/plot/): a small RGB raster with antialiased
 * lines and a built-in bitmap font (raster.c, font.c), a PNG encoder (png.c), the metrics
 * file reader (metrics.c) and the chart layout (plot.c). No dependencies beyond libc and
 * ir/support.h; no global mutable state.
 */
#ifndef MAMC_PLOT_H
#define MAMC_PLOT_H

#include <stdint.h>

#include "support.h"

/* ---- raster.c ---------------------------------------------------------------------------- */
typedef struct Rgb {
  uint8_t r, g, b;
} Rgb;

typedef struct Rect {
  int x0, y0, x1, y1; /* x1, y1 exclusive */
} Rect;

typedef struct Raster {
  int w, h;
  uint8_t *px; /* w * h * 3 bytes, rows top to bottom */
} Raster;

int raster_init(Raster *r, int w, int h, Rgb bg); /* 0, or -1 out of memory */
void raster_free(Raster *r);
Rgb raster_get(const Raster *r, int x, int y);
void raster_fill(Raster *r, Rect a, Rgb c);
/* An antialiased line of the given width (pixels), clipped to clip; dash > 0: dashes and gaps
 * of that length, phase carried in *dash_pos across the segments of a polyline (may be NULL). */
void raster_line(Raster *r, Rect clip, double x0, double y0, double x1, double y1, double width, Rgb c,
                 double dash, double *dash_pos);

/* ---- font.c ------------------------------------------------------------------------------ */
enum { FONT_W = 5, FONT_H = 9, FONT_CELL_W = 6, FONT_CELL_H = 10 };
int font_glyph_row(int c, int row);          /* bits of row 0..8 of ASCII c, MSB = left */
int font_text_width(const char *s, int scale); /* pixels */
/* Text with its top-left corner at (x, y); non-ASCII characters show as '?'. */
void raster_text(Raster *r, int x, int y, const char *s, int scale, Rgb c);

/* ---- png.c ------------------------------------------------------------------------------- */
/* The raster as an 8-bit RGB PNG (zlib stream of fixed-Huffman deflate blocks with
 * run-length matches, after per-row filtering). Appends to out; -1 when out failed. */
int png_encode(const Raster *r, StrBuf *out);
uint32_t png_crc32(const uint8_t *p, size_t n, uint32_t crc); /* crc = 0 to start */
uint32_t png_adler32(const uint8_t *p, size_t n, uint32_t adler); /* adler = 1 to start */

/* ---- metrics.c --------------------------------------------------------------------------- */
typedef struct Series {
  const char *name;  /* a task, or "mean" / "all tasks" */
  int task;          /* index into Metrics.tasks, or -1 for a summary line (black, dashed) */
  Vec(double) x, y;  /* by step; a later record at step s replaces the points from s on */
} Series;

typedef enum { PANEL_TRAIN_LOSS, PANEL_VALID_LOSS, PANEL_BLEU, PANEL_CHRF, PANEL_COUNT } PanelKind;

typedef struct Metrics {
  Vec(const char *) tasks; /* in order of first appearance: the colours */
  Vec(Series *) panel[PANEL_COUNT];
  int records, skipped;    /* lines read; lines that were not usable */
} Metrics;

/* Reads a JSONL metrics file (the trainer's: {"type": "train", "step", "task", "loss",
 * "loss_avg"} and {"type": "valid", "step", "loss": {task: x}, "mean", "bleu": {task: x},
 * "chrf": {task: x}}; a number instead of an object counts as the mean). Lines that are
 * not JSON objects are skipped with a warning in d. 0, or -1 when the file cannot be read. */
int metrics_load(Arena *a, Diag *d, const char *path, Metrics *m);
int metrics_load_text(Arena *a, Diag *d, const char *name, const char *text, Metrics *m);

/* ---- plot.c ------------------------------------------------------------------------------ */
typedef struct PlotOpts {
  int width, height;  /* pixels */
  double smooth;      /* training-loss moving average: time constant as a fraction of the steps (0: none) */
  const char *title;
} PlotOpts;

Rgb plot_task_color(int task);
int plot_panel_count(const Metrics *m); /* panels with at least one finite point */ /* the colour of task i (a fixed palette, cycled) */
/* Draws every non-empty panel of m into r (allocated here: raster_free it). 0, or -1 out of
 * memory or nothing to plot. */
int plot_render(const Metrics *m, const PlotOpts *o, Raster *r);

#endif
