/* raster.c — an RGB pixel buffer for `mamc plot`: filled rectangles and antialiased lines of
 * any width (coverage from the distance of each pixel centre to the segment, round caps, so
 * polylines join smoothly), optionally dashed. Text is in font.c. */
#include <math.h>
#include <stdlib.h>

#include "plot.h"

int raster_init(Raster *r, int w, int h, Rgb bg) {
  r->w = w;
  r->h = h;
  r->px = malloc((size_t)w * (size_t)h * 3);
  if (!r->px) return -1;
  for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
    r->px[3 * i] = bg.r;
    r->px[3 * i + 1] = bg.g;
    r->px[3 * i + 2] = bg.b;
  }
  return 0;
}

void raster_free(Raster *r) {
  free(r->px);
  r->px = NULL;
}

Rgb raster_get(const Raster *r, int x, int y) {
  const uint8_t *p = r->px + 3 * ((size_t)y * (size_t)r->w + (size_t)x);
  return (Rgb){p[0], p[1], p[2]};
}

static Rect clip_to(Rect a, Rect b) {
  Rect c = {a.x0 > b.x0 ? a.x0 : b.x0, a.y0 > b.y0 ? a.y0 : b.y0, a.x1 < b.x1 ? a.x1 : b.x1, a.y1 < b.y1 ? a.y1 : b.y1};
  return c;
}

void raster_fill(Raster *r, Rect a, Rgb c) {
  a = clip_to(a, (Rect){0, 0, r->w, r->h});
  for (int y = a.y0; y < a.y1; y++)
    for (int x = a.x0; x < a.x1; x++) {
      uint8_t *p = r->px + 3 * ((size_t)y * (size_t)r->w + (size_t)x);
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

static void blend(Raster *r, int x, int y, Rgb c, double a) {
  uint8_t *p = r->px + 3 * ((size_t)y * (size_t)r->w + (size_t)x);
  if (a >= 1.0) {
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
    return;
  }
  p[0] = (uint8_t)lround(p[0] + (c.r - p[0]) * a);
  p[1] = (uint8_t)lround(p[1] + (c.g - p[1]) * a);
  p[2] = (uint8_t)lround(p[2] + (c.b - p[2]) * a);
}

void raster_line(Raster *r, Rect clip, double x0, double y0, double x1, double y1, double width, Rgb c,
                 double dash, double *dash_pos) {
  double hw = width / 2, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, len = sqrt(len2);
  double start = dash_pos ? *dash_pos : 0.0;
  if (dash_pos) *dash_pos += len;
  if (!isfinite(len) || !isfinite(x0) || !isfinite(y0)) return;
  /* the bounding box, clipped in floating point first (coordinates may be far outside) */
  Rect lim = clip_to(clip, (Rect){0, 0, r->w, r->h});
  double bx0 = fmax(fmin(x0, x1) - hw - 1, lim.x0), by0 = fmax(fmin(y0, y1) - hw - 1, lim.y0);
  double bx1 = fmin(fmax(x0, x1) + hw + 2, lim.x1), by1 = fmin(fmax(y0, y1) + hw + 2, lim.y1);
  if (!(bx0 < bx1 && by0 < by1)) return;
  Rect box = {(int)floor(bx0), (int)floor(by0), (int)ceil(bx1), (int)ceil(by1)};
  for (int y = box.y0; y < box.y1; y++)
    for (int x = box.x0; x < box.x1; x++) {
      double px = x + 0.5 - x0, py = y + 0.5 - y0;
      double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      double ex = px - t * dx, ey = py - t * dy, d = sqrt(ex * ex + ey * ey);
      double cover = hw + 0.5 - d;
      if (cover <= 0) continue;
      if (dash > 0 && fmod(start + t * len, 2 * dash) >= dash) continue;
      blend(r, x, y, c, cover > 1 ? 1 : cover);
    }
}
