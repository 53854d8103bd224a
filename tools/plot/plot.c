/* plot.c — the chart of `mamc plot`: a title, up to four panels (training loss, validation
 * loss, validation BLEU, validation chrF; those with data) in a grid, and one legend naming
 * the tasks by colour. Each panel has nice-number ticks on both axes, light grid lines, and:
 *
 *   training loss    per task a moving average of its logged losses over a window of
 *                    --smooth (3%) of the run's steps (thick), the raw losses as light dots;
 *                    the trainer's moving average over all tasks (loss_avg) dashed in black
 *   validation ...   per task a line with square markers; the mean dashed in black
 *
 * Sizes scale with the image (text scale = min(width / 600, height / 400), at least 1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot.h"

static const Rgb WHITE = {255, 255, 255}, INK = {34, 34, 34}, GREY = {110, 110, 110}, GRID = {232, 232, 232},
                 FRAME = {150, 150, 150};

Rgb plot_task_color(int task) {
  static const Rgb palette[10] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                  {140, 86, 75},  {227, 119, 194}, {23, 190, 207}, {188, 189, 34}, {127, 127, 127}};
  return task < 0 ? INK : palette[task % 10];
}

static Rgb lighten(Rgb c, double f) {
  return (Rgb){(uint8_t)(c.r + (255 - c.r) * f), (uint8_t)(c.g + (255 - c.g) * f), (uint8_t)(c.b + (255 - c.b) * f)};
}

/* ---- axes ------------------------------------------------------------------------------- */
typedef struct Axis {
  double lo, hi, step;
  int decimals;
} Axis;

static double nice_num(double x, int round_it) {
  double e = floor(log10(x)), f = x / pow(10, e), nf;
  if (round_it) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * pow(10, e);
}

static Axis nice_axis(double lo, double hi, int ticks) {
  if (!(hi > lo)) { /* one value: a unit (or 10%) around it */
    double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
    lo -= pad, hi += pad;
  }
  if (ticks < 2) ticks = 2;
  Axis a;
  a.step = nice_num((hi - lo) / (ticks - 1), 1);
  a.lo = floor(lo / a.step) * a.step;
  a.hi = ceil(hi / a.step) * a.step;
  a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
  return a;
}

/* The i-th tick value from the first multiple of the step at or after lo; n ticks in all (at
 * most 100: none when the range or step is not finite). */
static int tick_count(const Axis *a, double *first) {
  *first = ceil(a->lo / a->step - 1e-9) * a->step;
  double n = floor((a->hi - *first) / a->step + 1e-9) + 1;
  return isfinite(n) && n > 0 ? (n > 100 ? 100 : (int)n) : 0;
}

static void fmt_tick(char *buf, size_t n, const Axis *a, double v) {
  if (fabs(v) < a->step * 1e-6) v = 0; /* no "-0.0" */
  if (fabs(v) >= 1e6) snprintf(buf, n, "%.3g", v);
  else if (a->decimals == 0 && fabs(v) >= 10000 && fmod(v, 1000) == 0) snprintf(buf, n, "%.0fk", v / 1000);
  else snprintf(buf, n, "%.*f", a->decimals, v);
}

typedef struct Frame {
  Rect area;
  Axis x, y;
  int inset; /* pixels kept free at the left and right ends of the x axis (markers) */
} Frame;

static double px_x(const Frame *f, double v) {
  return f->area.x0 + f->inset + (v - f->x.lo) / (f->x.hi - f->x.lo) * (f->area.x1 - 1 - f->area.x0 - 2 * f->inset);
}
static double px_y(const Frame *f, double v) {
  return f->area.y1 - 1 - (v - f->y.lo) / (f->y.hi - f->y.lo) * (f->area.y1 - 1 - f->area.y0);
}

/* ---- panels ------------------------------------------------------------------------------ */
static const char *const panel_titles[PANEL_COUNT][2] = {
    {"training loss (moving average; dots: raw losses)", "training loss (dots: raw)"},
    {"validation loss", "validation loss"},
    {"validation BLEU", "validation BLEU"},
    {"validation chrF", "validation chrF"}};

/* Text cut to fit max_w pixels, ending in ".." when cut. */
static void draw_fitted(Raster *r, int x, int y, const char *s, int max_w, int sc, Rgb c) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  size_t n = strlen(buf);
  while (n > 2 && font_text_width(buf, sc) > max_w) {
    n--;
    while (n > 0 && (buf[n] & 0xC0) == 0x80) n--; /* whole UTF-8 characters */
    buf[n] = 0;
    if (n >= 2) buf[n - 2] = buf[n - 1] = '.';
  }
  raster_text(r, x, y, buf, sc, c);
}

static int series_points(const Series *s) {
  int n = 0;
  for (int i = 0; i < s->y.n; i++) n += isfinite(s->y.v[i]) && isfinite(s->x.v[i]);
  return n;
}

static int panel_has_data(const Metrics *m, int k) {
  for (int i = 0; i < m->panel[k].n; i++)
    if (series_points(m->panel[k].v[i])) return 1;
  return 0;
}

/* The y values drawn for s: for a task's training loss an exponential moving average in
 * steps, each point weighted 1 - exp(-gap / tau) with tau = smooth * (the run's steps), so
 * a task logged rarely is smoothed little and a dense one much; else the data. */
static double *drawn_values(const Series *s, PanelKind k, double smooth, double steps) {
  double *y = malloc(sizeof *y * (size_t)(s->y.n ? s->y.n : 1));
  if (!y) return NULL;
  double ema = NAN, last_x = NAN, tau = smooth * steps;
  for (int i = 0; i < s->y.n; i++) {
    double v = s->y.v[i];
    if (k == PANEL_TRAIN_LOSS && s->task >= 0 && isfinite(v) && tau > 0) {
      double w = isnan(ema) ? 1.0 : 1.0 - exp(-(s->x.v[i] - last_x) / tau);
      v = ema = isnan(ema) ? v : w * v + (1 - w) * ema;
      last_x = s->x.v[i];
    }
    y[i] = v;
  }
  return y;
}

static void square(Raster *r, Rect clip, double x, double y, int size, Rgb c) {
  if (!(fabs(x) < 1e7 && fabs(y) < 1e7)) return; /* far outside (or not a number) */
  int x0 = (int)lround(x) - size / 2, y0 = (int)lround(y) - size / 2;
  Rect q = {x0, y0, x0 + size, y0 + size};
  q = (Rect){q.x0 > clip.x0 ? q.x0 : clip.x0, q.y0 > clip.y0 ? q.y0 : clip.y0, q.x1 < clip.x1 ? q.x1 : clip.x1,
             q.y1 < clip.y1 ? q.y1 : clip.y1};
  raster_fill(r, q, c);
}

static void draw_series(Raster *r, const Frame *f, const Series *s, PanelKind k, const double *y, int sc) {
  Rgb c = plot_task_color(s->task);
  int summary = s->task < 0;
  if (k == PANEL_TRAIN_LOSS && !summary) /* the raw losses, light */
    for (int i = 0; i < s->y.n; i++)
      if (isfinite(s->y.v[i])) square(r, f->area, px_x(f, s->x.v[i]), px_y(f, s->y.v[i]), sc + 1, lighten(c, 0.55));
  double width = summary ? 1.2 * sc : k == PANEL_TRAIN_LOSS ? 2.0 * sc : 1.5 * sc, dash_pos = 0;
  int prev = -1;
  for (int i = 0; i < s->y.n; i++) {
    if (!isfinite(y[i]) || !isfinite(s->x.v[i])) {
      prev = -1;
      continue;
    }
    if (prev >= 0)
      raster_line(r, f->area, px_x(f, s->x.v[prev]), px_y(f, y[prev]), px_x(f, s->x.v[i]), px_y(f, y[i]), width, c,
                  summary ? 4.0 * sc : 0, &dash_pos);
    prev = i;
  }
  if (k != PANEL_TRAIN_LOSS || series_points(s) == 1)
    for (int i = 0; i < s->y.n; i++)
      if (isfinite(y[i])) square(r, f->area, px_x(f, s->x.v[i]), px_y(f, y[i]), summary ? 2 * sc + 1 : 2 * sc + 2, c);
}

static int draw_panel(Raster *r, Rect box, const Metrics *m, PanelKind k, const PlotOpts *o, int sc) {
  const Series *const *ser = (const Series *const *)m->panel[k].v;
  int n = m->panel[k].n, ch = FONT_CELL_H * sc, pad = 6 * sc;
  double **ys = calloc((size_t)n, sizeof *ys);
  if (!ys) return -1;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < ser[i]->x.n; j++)
      if (isfinite(ser[i]->x.v[j])) xlo = fmin(xlo, ser[i]->x.v[j]), xhi = fmax(xhi, ser[i]->x.v[j]);
  for (int i = 0; i < n; i++) {
    if (!(ys[i] = drawn_values(ser[i], k, o->smooth, xhi - xlo))) {
      for (int j = 0; j < i; j++) free(ys[j]);
      free(ys);
      return -1;
    }
    for (int j = 0; j < ser[i]->y.n; j++) {
      double x = ser[i]->x.v[j], v = ser[i]->y.v[j];
      if (!isfinite(x) || !isfinite(v)) continue;
      ylo = fmin(ylo, fmin(v, ys[i][j])), yhi = fmax(yhi, fmax(v, ys[i][j]));
    }
  }
  /* title, then the frame: room for the y tick labels on the left, x ticks and "step" below */
  const char *title = panel_titles[k][font_text_width(panel_titles[k][0], sc) > box.x1 - box.x0];
  draw_fitted(r, box.x0, box.y0, title, box.x1 - box.x0, sc, INK);
  Frame f;
  f.inset = 3 * sc;
  int plot_h = box.y1 - box.y0 - ch - pad - 2 * ch - pad;
  f.y = nice_axis(ylo, yhi, plot_h / (3 * ch) + 1);
  int label_w = 0;
  char buf[64];
  double first;
  int nt = tick_count(&f.y, &first);
  for (int t = 0; t < nt; t++) {
    fmt_tick(buf, sizeof buf, &f.y, first + t * f.y.step);
    int w = font_text_width(buf, sc);
    label_w = w > label_w ? w : label_w;
  }
  f.area = (Rect){box.x0 + label_w + pad, box.y0 + ch + pad, box.x1 - pad, box.y1 - 2 * ch - pad};
  f.x = nice_axis(xlo, xhi, (f.area.x1 - f.area.x0) / (FONT_CELL_W * sc * 8) + 1);
  if (xhi > xlo) f.x.lo = xlo, f.x.hi = xhi; /* steps: exactly the data, ticks inside */
  if (f.area.x1 - f.area.x0 < 20 || f.area.y1 - f.area.y0 < 20) goto out; /* too small to draw */

  /* grid and ticks */
  for (int t = 0; t < nt; t++) {
    double v = first + t * f.y.step;
    int y = (int)lround(px_y(&f, v));
    raster_fill(r, (Rect){f.area.x0, y, f.area.x1, y + 1}, GRID);
    fmt_tick(buf, sizeof buf, &f.y, v);
    raster_text(r, f.area.x0 - pad / 2 - font_text_width(buf, sc), y - 3 * sc, buf, sc, INK);
  }
  nt = tick_count(&f.x, &first);
  for (int t = 0; t < nt; t++) {
    double v = first + t * f.x.step;
    int x = (int)lround(px_x(&f, v));
    raster_fill(r, (Rect){x, f.area.y0, x + 1, f.area.y1}, GRID);
    raster_fill(r, (Rect){x, f.area.y1, x + 1, f.area.y1 + pad / 2}, FRAME);
    fmt_tick(buf, sizeof buf, &f.x, v);
    raster_text(r, x - font_text_width(buf, sc) / 2, f.area.y1 + pad / 2 + sc, buf, sc, INK);
  }
  raster_text(r, (f.area.x0 + f.area.x1 - font_text_width("step", sc)) / 2, f.area.y1 + pad / 2 + ch + sc, "step", sc,
              GREY);
  /* the series: the tasks, then the (thin, dashed) summary lines over them */
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++)
      if ((ser[i]->task < 0) == pass) draw_series(r, &f, ser[i], k, ys[i], sc);
  /* the frame on top */
  raster_fill(r, (Rect){f.area.x0, f.area.y0, f.area.x1, f.area.y0 + 1}, FRAME);
  raster_fill(r, (Rect){f.area.x0, f.area.y1 - 1, f.area.x1, f.area.y1}, FRAME);
  raster_fill(r, (Rect){f.area.x0, f.area.y0, f.area.x0 + 1, f.area.y1}, FRAME);
  raster_fill(r, (Rect){f.area.x1 - 1, f.area.y0, f.area.x1, f.area.y1}, FRAME);
out:
  for (int i = 0; i < n; i++) free(ys[i]);
  free(ys);
  return 0;
}

/* ---- legend ------------------------------------------------------------------------------ */
/* The legend's entries: the tasks, then the black dashed summary lines that occur. */
static int legend_entries(const Metrics *m, const char **names, int *tasks, int max) {
  int n = 0, train = 0, valid = 0;
  for (int k = 0; k < PANEL_COUNT; k++)
    for (int i = 0; i < m->panel[k].n; i++)
      if (m->panel[k].v[i]->task < 0) *(k == PANEL_TRAIN_LOSS ? &train : &valid) = 1;
  for (int i = 0; i < m->tasks.n && n < max; i++) names[n] = m->tasks.v[i], tasks[n++] = i;
  if (train && n < max) names[n] = "all tasks (loss_avg)", tasks[n++] = -1;
  if (valid && n < max) names[n] = "mean (validation)", tasks[n++] = -1;
  return n;
}

enum { LEGEND_MAX = 64 };

static int legend_width(const Metrics *m, int sc) {
  const char *names[LEGEND_MAX];
  int tasks[LEGEND_MAX], n = legend_entries(m, names, tasks, LEGEND_MAX), w = font_text_width("tasks", sc);
  for (int i = 0; i < n; i++) {
    int t = font_text_width(names[i], sc);
    w = t > w ? t : w;
  }
  return w + 5 * FONT_CELL_W * sc;
}

static void draw_legend(Raster *r, Rect box, const Metrics *m, int sc) {
  const char *names[LEGEND_MAX];
  int tasks[LEGEND_MAX], n = legend_entries(m, names, tasks, LEGEND_MAX);
  int line = FONT_CELL_H * sc + 4 * sc, sample = 3 * FONT_CELL_W * sc, y = box.y0, tx = box.x0 + sample + 4 * sc;
  raster_text(r, box.x0, y, "tasks", sc, INK);
  y += line;
  for (int i = 0; i < n; i++, y += line) {
    if (y + 2 * line > box.y1 && i < n - 1) { /* no room left */
      char more[48];
      snprintf(more, sizeof more, "+%d more", n - i);
      raster_text(r, box.x0, y, more, sc, GREY);
      break;
    }
    Rgb c = plot_task_color(tasks[i]);
    double ym = y + 3.5 * sc, dash_pos = 0;
    int summary = tasks[i] < 0;
    raster_line(r, box, box.x0, ym, box.x0 + sample, ym, summary ? 1.2 * sc : 2.0 * sc, c, summary ? 4.0 * sc : 0,
                &dash_pos);
    if (!summary) square(r, box, box.x0 + sample / 2.0, ym, 2 * sc + 2, c);
    draw_fitted(r, tx, y, names[i], box.x1 - tx, sc, summary ? GREY : INK);
  }
}

int plot_panel_count(const Metrics *m) {
  int n = 0;
  for (int k = 0; k < PANEL_COUNT; k++) n += panel_has_data(m, k);
  return n;
}

/* ---- the whole image --------------------------------------------------------------------- */
int plot_render(const Metrics *m, const PlotOpts *o, Raster *r) {
  PanelKind kinds[PANEL_COUNT];
  int n = 0;
  for (int k = 0; k < PANEL_COUNT; k++)
    if (panel_has_data(m, k)) kinds[n++] = (PanelKind)k;
  if (!n) return -1;
  int W = o->width, H = o->height;
  if (raster_init(r, W, H, WHITE) != 0) return -1;
  int sc = W / 600 < H / 400 ? W / 600 : H / 400;
  if (sc < 1) sc = 1;
  int pad = 6 * sc, ch = FONT_CELL_H * sc;

  /* title (one size up) and a line of facts under it */
  const char *title = o->title ? o->title : "training curves";
  int tw = font_text_width(title, sc + 1);
  raster_text(r, (W - tw) / 2, pad, title, sc + 1, INK);
  double last_step = -INFINITY, last_mean = NAN;
  for (int k = 0; k < PANEL_COUNT; k++)
    for (int i = 0; i < m->panel[k].n; i++) {
      const Series *s = m->panel[k].v[i];
      if (s->x.n) last_step = fmax(last_step, s->x.v[s->x.n - 1]);
      if (k == PANEL_VALID_LOSS && s->task < 0 && s->y.n) last_mean = s->y.v[s->y.n - 1];
    }
  char facts[160];
  int len = snprintf(facts, sizeof facts, "%d task%s, %.0f steps", m->tasks.n, m->tasks.n == 1 ? "" : "s", last_step);
  if (isfinite(last_mean)) snprintf(facts + len, sizeof facts - (size_t)len, ", last validation loss (mean) %.3f", last_mean);
  raster_text(r, (W - font_text_width(facts, sc)) / 2, pad + FONT_CELL_H * (sc + 1) + sc, facts, sc, GREY);
  int top = pad + FONT_CELL_H * (sc + 1) + ch + 2 * pad;

  /* legend on the right, panels in a grid (one or two columns) in the rest */
  int lw = legend_width(m, sc);
  if (lw > W / 3) lw = W / 3;
  draw_legend(r, (Rect){W - lw, top + ch + pad, W - pad, H - pad}, m, sc);
  int cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
  int gx0 = pad, gx1 = W - lw - pad, gy0 = top, gy1 = H - pad;
  for (int i = 0; i < n; i++) {
    int c = i % cols, rw = i / cols;
    Rect box = {gx0 + (gx1 - gx0) * c / cols, gy0 + (gy1 - gy0) * rw / rows, gx0 + (gx1 - gx0) * (c + 1) / cols - pad,
                gy0 + (gy1 - gy0) * (rw + 1) / rows - pad};
    if (draw_panel(r, box, m, kinds[i], o, sc) != 0) {
      raster_free(r);
      return -1;
    }
  }
  return 0;
}
