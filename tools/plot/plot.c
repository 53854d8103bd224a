/* plot.c — the chart of `mamc plot`: a title, up to four panels (training loss, validation
 * loss, validation BLEU, validation chrF; those with data) in a grid, and one legend naming
 * the tasks by colour. Each panel has nice-number ticks on both axes, light grid lines, and:
 *
 *   training loss    per task an exponential moving average of its logged losses (thick),
 *                    the raw losses as light dots; the trainer's running average over all
 *                    tasks (loss_avg) dashed in black
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
  a.step = nice_num(nice_num(hi - lo, 0) / (ticks - 1), 1);
  a.lo = floor(lo / a.step) * a.step;
  a.hi = ceil(hi / a.step) * a.step;
  a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
  return a;
}

static void fmt_tick(char *buf, size_t n, const Axis *a, double v) {
  if (fabs(v) < a->step * 1e-6) v = 0; /* no "-0.0" */
  if (a->decimals == 0 && fabs(v) >= 10000 && fmod(v, 1000) == 0) snprintf(buf, n, "%.0fk", v / 1000);
  else snprintf(buf, n, "%.*f", a->decimals, v);
}

typedef struct Frame {
  Rect area;
  Axis x, y;
} Frame;

static double px_x(const Frame *f, double v) {
  return f->area.x0 + (v - f->x.lo) / (f->x.hi - f->x.lo) * (f->area.x1 - 1 - f->area.x0);
}
static double px_y(const Frame *f, double v) {
  return f->area.y1 - 1 - (v - f->y.lo) / (f->y.hi - f->y.lo) * (f->area.y1 - 1 - f->area.y0);
}

/* ---- panels ------------------------------------------------------------------------------ */
static const char *const panel_titles[PANEL_COUNT] = {
    "training loss (per task: moving average, dots: raw)", "validation loss", "validation BLEU", "validation chrF"};

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

/* The y values drawn for s: the moving average for a task's training loss, else the data. */
static double *drawn_values(const Series *s, PanelKind k, double smooth) {
  double *y = malloc(sizeof *y * (size_t)(s->y.n ? s->y.n : 1));
  if (!y) return NULL;
  double ema = NAN;
  for (int i = 0; i < s->y.n; i++) {
    double v = s->y.v[i];
    if (k == PANEL_TRAIN_LOSS && s->task >= 0 && isfinite(v)) v = ema = isnan(ema) ? v : smooth * v + (1 - smooth) * ema;
    y[i] = v;
  }
  return y;
}

static void square(Raster *r, Rect clip, double x, double y, int size, Rgb c) {
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
  for (int i = 0; i < n; i++) {
    if (!(ys[i] = drawn_values(ser[i], k, o->smooth))) {
      for (int j = 0; j < i; j++) free(ys[j]);
      free(ys);
      return -1;
    }
    for (int j = 0; j < ser[i]->y.n; j++) {
      double x = ser[i]->x.v[j], v = ser[i]->y.v[j];
      if (!isfinite(x) || !isfinite(v)) continue;
      xlo = fmin(xlo, x), xhi = fmax(xhi, x);
      ylo = fmin(ylo, fmin(v, ys[i][j])), yhi = fmax(yhi, fmax(v, ys[i][j]));
    }
  }
  /* title, then the frame: room for the y tick labels on the left, x ticks and "step" below */
  raster_text(r, box.x0, box.y0, panel_titles[k], sc, INK);
  Frame f;
  int plot_h = box.y1 - box.y0 - ch - pad - 2 * ch - pad;
  f.y = nice_axis(ylo, yhi, plot_h / (3 * ch) + 1);
  int label_w = 0;
  char buf[64];
  for (double v = f.y.lo; v <= f.y.hi + f.y.step / 2; v += f.y.step) {
    fmt_tick(buf, sizeof buf, &f.y, v);
    int w = font_text_width(buf, sc);
    label_w = w > label_w ? w : label_w;
  }
  f.area = (Rect){box.x0 + label_w + pad, box.y0 + ch + pad, box.x1 - pad, box.y1 - 2 * ch - pad};
  f.x = nice_axis(xlo, xhi, (f.area.x1 - f.area.x0) / (FONT_CELL_W * sc * 10) + 1);
  if (f.area.x1 - f.area.x0 < 20 || f.area.y1 - f.area.y0 < 20) goto out; /* too small to draw */

  /* grid and ticks */
  for (double v = f.y.lo; v <= f.y.hi + f.y.step / 2; v += f.y.step) {
    int y = (int)lround(px_y(&f, v));
    raster_fill(r, (Rect){f.area.x0, y, f.area.x1, y + 1}, GRID);
    fmt_tick(buf, sizeof buf, &f.y, v);
    raster_text(r, f.area.x0 - pad / 2 - font_text_width(buf, sc), y - 3 * sc, buf, sc, INK);
  }
  for (double v = f.x.lo; v <= f.x.hi + f.x.step / 2; v += f.x.step) {
    int x = (int)lround(px_x(&f, v));
    raster_fill(r, (Rect){x, f.area.y0, x + 1, f.area.y1}, GRID);
    raster_fill(r, (Rect){x, f.area.y1, x + 1, f.area.y1 + pad / 2}, FRAME);
    fmt_tick(buf, sizeof buf, &f.x, v);
    raster_text(r, x - font_text_width(buf, sc) / 2, f.area.y1 + pad / 2 + sc, buf, sc, INK);
  }
  raster_text(r, (f.area.x0 + f.area.x1 - font_text_width("step", sc)) / 2, f.area.y1 + pad / 2 + ch + sc, "step", sc,
              GREY);
  /* the series: summary lines first, so the tasks are drawn over them */
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++)
      if ((ser[i]->task >= 0) == pass) draw_series(r, &f, ser[i], k, ys[i], sc);
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
static const char *summary_label(const Metrics *m) {
  int train = 0, valid = 0;
  for (int k = 0; k < PANEL_COUNT; k++)
    for (int i = 0; i < m->panel[k].n; i++)
      if (m->panel[k].v[i]->task < 0) {
        if (k == PANEL_TRAIN_LOSS) train = 1;
        else valid = 1;
      }
  return train && valid ? "mean; all tasks (train)" : train ? "all tasks" : valid ? "mean" : NULL;
}

static int legend_width(const Metrics *m, int sc) {
  int w = font_text_width("tasks", sc);
  for (int i = 0; i < m->tasks.n; i++) {
    int t = font_text_width(m->tasks.v[i], sc);
    w = t > w ? t : w;
  }
  const char *s = summary_label(m);
  if (s && font_text_width(s, sc) > w) w = font_text_width(s, sc);
  return w + 5 * FONT_CELL_W * sc;
}

static void draw_legend(Raster *r, Rect box, const Metrics *m, int sc) {
  int ch = FONT_CELL_H * sc, line = ch + 4 * sc, sample = 3 * FONT_CELL_W * sc, y = box.y0;
  raster_text(r, box.x0, y, "tasks", sc, INK);
  y += line;
  const char *s = summary_label(m);
  int n = m->tasks.n + (s != NULL);
  for (int i = 0; i < n; i++, y += line) {
    if (y + 2 * line > box.y1 && i < n - 1) { /* no room left */
      char more[48];
      snprintf(more, sizeof more, "+%d more", n - i);
      raster_text(r, box.x0, y, more, sc, GREY);
      break;
    }
    int task = i < m->tasks.n ? i : -1;
    Rgb c = plot_task_color(task);
    double ym = y + 3.5 * sc, dash_pos = 0;
    raster_line(r, box, box.x0, ym, box.x0 + sample, ym, task < 0 ? 1.2 * sc : 2.0 * sc, c, task < 0 ? 4.0 * sc : 0,
                &dash_pos);
    square(r, box, box.x0 + sample / 2.0, ym, 2 * sc + 2, c);
    raster_text(r, box.x0 + sample + 2 * sc * 2, y, task < 0 ? s : m->tasks.v[i], sc, task < 0 ? GREY : INK);
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
