/* cmd_plot.c — `mamc plot`: the training and validation curves of a metrics file (the JSONL
 * that `mamc train` writes) as one PNG: loss per task against step, and BLEU / chrF when the
 * metrics have them. The drawing is tools/plot/ (no dependencies).
 *
 *   mamc plot METRICS.jsonl [-o curves.png] [--width W] [--height H] [--smooth F] [--title T]
 */
#include <stdlib.h>

#include "cli.h"
#include "plot/plot.h"

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < lo || v > hi) {
    fprintf(stderr, "mamc plot: %s wants a whole number in %d..%d, not '%s'\n", opt, lo, hi, s);
    return 0;
  }
  *out = (int)v;
  return 1;
}

static int run_plot(int argc, char **argv) {
  const char *in = NULL, *out = "curves.png";
  PlotOpts o = {1200, 800, 0.03, NULL};
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_plot.usage, stdout);
      return EXIT_OK;
    } else if (!strcmp(s, "-o") && has) {
      out = argv[++i];
    } else if (!strcmp(s, "--width") && has) {
      if (!parse_int(s, argv[++i], 200, 8000, &o.width)) return EXIT_INPUT;
    } else if (!strcmp(s, "--height") && has) {
      if (!parse_int(s, argv[++i], 150, 8000, &o.height)) return EXIT_INPUT;
    } else if (!strcmp(s, "--smooth") && has) {
      char *end;
      o.smooth = strtod(argv[++i], &end);
      if (*end || !(o.smooth >= 0 && o.smooth <= 1)) {
        fprintf(stderr, "mamc plot: --smooth wants a fraction of the steps in [0, 1], not '%s'\n", argv[i]);
        return EXIT_INPUT;
      }
    } else if (!strcmp(s, "--title") && has) {
      o.title = argv[++i];
    } else if (s[0] == '-' && s[1]) {
      fprintf(stderr, "mamc plot: unknown option '%s' (or it needs a value; see mamc plot --help)\n", s);
      return EXIT_INPUT;
    } else if (in) {
      fprintf(stderr, "mamc plot: one metrics file at a time ('%s' and '%s')\n", in, s);
      return EXIT_INPUT;
    } else {
      in = s;
    }
  }
  if (!in) {
    fprintf(stderr, "mamc plot: give the metrics file (see mamc plot --help)\n");
    return EXIT_INPUT;
  }
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  Metrics m;
  Raster r = {0};
  StrBuf png;
  sb_init(&png);
  int rc = EXIT_INPUT;
  if (metrics_load(&a, &d, in, &m) != 0) goto done;
  if (!o.title) {
    const char *base = strrchr(in, '/');
    o.title = arena_printf(&a, "mamc training curves: %s", base ? base + 1 : in);
  }
  if (!plot_panel_count(&m)) {
    diag_plain(&d, "%s: nothing to plot (%d records; no training or validation losses, BLEU or chrF)", in, m.records);
    goto done;
  }
  if (plot_render(&m, &o, &r) != 0) {
    fprintf(stderr, "mamc plot: out of memory\n");
    rc = EXIT_INTERNAL;
    goto done;
  }
  if (png_encode(&r, &png) != 0) {
    fprintf(stderr, "mamc plot: out of memory\n");
    rc = EXIT_INTERNAL;
    goto done;
  }
  rc = cli_write_output(out, png.s, png.len);
  if (rc == EXIT_OK && strcmp(out, "-") != 0)
    fprintf(stderr, "mamc plot: %s: %dx%d, %d task%s, %zu bytes\n", out, r.w, r.h, m.tasks.n, m.tasks.n == 1 ? "" : "s",
            png.len);
done:
  cli_flush_diag(&d);
  diag_free(&d);
  sb_free(&png);
  raster_free(&r);
  arena_free(&a);
  return rc;
}

const Cmd cmd_plot = {
    "plot", run_plot, "draw training curves (loss, BLEU, chrF per task) from a metrics file as a PNG",
    "usage: mamc plot METRICS.jsonl [-o curves.png] [--width W] [--height H] [--smooth F] [--title T]\n\n"
    "Draws the curves of a training run's JSONL metrics (mamc train --metrics, or\n"
    "checkpoint.dir/metrics.jsonl) as one PNG image: training loss per task (a moving average,\n"
    "with the raw losses as dots, and the trainer's loss_avg over all tasks), validation loss per\n"
    "task and its mean, and validation BLEU and chrF per task when the metrics have them\n"
    "(\"bleu\": {task: x}, \"chrf\": {task: x} in the valid records). Runs appended to the same\n"
    "file (resumed or restarted) replace the earlier points from the step where they start.\n\n"
    "options:\n"
    "  -o FILE         the image (default curves.png; '-' for standard output)\n"
    "  --width W       pixels (default 1200)\n"
    "  --height H      pixels (default 800)\n"
    "  --smooth F      window of the training-loss moving average, as a fraction of the run's\n"
    "                  steps (default 0.03; 0 = raw losses)\n"
    "  --title T       the title (default: mamc training curves: FILE)\n"};
