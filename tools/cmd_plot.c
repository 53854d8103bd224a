/* cmd_plot.c — `mamc plot`: training and validation curves of a metrics file as a PNG
 * (being written). */
#include "cli.h"

static int run_plot(int argc, char **argv) {
  fprintf(stderr, "mamc plot: not yet\n");
  return EXIT_INTERNAL;
}

const Cmd cmd_plot = {"plot", run_plot, "draw training curves (loss, BLEU, chrF per task) from a metrics file as a PNG",
                      "usage: mamc plot METRICS.jsonl [-o curves.png]\n"};
