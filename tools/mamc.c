/* mamc.c — the command-line face of mamc: dispatches subcommands (tools/cmd_*.c). */
#include <stdlib.h>

#include "cli.h"
#include "mamc/mamc.h"

static const Cmd *const cmds[] = {&cmd_check, &cmd_ir,   &cmd_dot,  &cmd_train, &cmd_vocab, &cmd_passes,
                                  &cmd_place, &cmd_plan, &cmd_eval, &cmd_plot, &cmd_convert,
                                  &cmd_translate, &cmd_cache};

static void usage(FILE *f) {
  fputs("mamc — compiler and runtime for modular multilingual neural networks\n\n"
        "usage: mamc COMMAND [ARGS]   (mamc COMMAND --help for details)\n\ncommands:\n", f);
  for (int i = 0; i < COUNT_OF(cmds); i++) fprintf(f, "  %-10s %s\n", cmds[i]->name, cmds[i]->summary);
  fputs("\nA model is a .mam file (docs/language.md); a run configuration is YAML (docs/config.md).\n"
        "Exit status: 0 success, 2 bad input (file:line:col diagnostics), 1 internal failure,\n"
        "130 mamc train interrupted (Ctrl-C, SIGTERM or SIGUSR1) after saving a checkpoint.\n\n"
        "Environment (the common ones; docs/gpu.md lists the GPU's):\n"
        "  MAMC_JIT_CACHE    folder of compiled CPU kernels, reused by later runs (default\n"
        "                    $XDG_CACHE_HOME/mamc, else ~/.cache/mamc; 0: compile afresh each run)\n"
        "  MAMC_CUDA_CACHE   the same for GPU kernels (NVRTC)\n"
        "  MAMC_CACHE_MAX    the most a cache folder may hold (default 1G; 0: no limit); see mamc cache\n"
        "  MAMC_THREADS      threads for the CPU kernels (default: 1)\n"
        "  MAMC_NO_JIT=1     run the fused kernels in the reference interpreter (slow; debugging)\n"
        "  MAMC_JIT_OPT=0    compile CPU kernels without LLVM's -O2 (faster to compile, slower)\n", f);
}

int main(int argc, char **argv) {
  mamc_keep_freed_memory(); /* no page faults per training step: include/mamc/mamc.h */
  if (argc < 2) {
    usage(stderr);
    return EXIT_INPUT;
  }
  const char *name = argv[1];
  if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(name, "--version") == 0) {
    puts("mamc 0.1.0");
    return EXIT_OK;
  }
  for (int i = 0; i < COUNT_OF(cmds); i++)
    if (strcmp(cmds[i]->name, name) == 0) return cmds[i]->run(argc - 1, argv + 1);
  fprintf(stderr, "mamc: unknown command '%s'\n\n", name);
  usage(stderr);
  return EXIT_INPUT;
}
