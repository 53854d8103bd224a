/* cmd_cache.c — `mamc cache`: where the kernel caches are (CPU objects from the LLVM JIT, GPU
 * code from NVRTC), what they hold, and clearing or trimming them (storage: ir/blobcache.h).
 *
 *   mamc cache [--clear | --trim SIZE] [--dir FOLDER]
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "blobcache.h"
#include "cli.h"
#include "cli_dist.h" /* cli_human_bytes */

/* The two caches: their environment variable and what their entries are. */
static const struct {
  const char *what, *env;
} caches[] = {{"CPU kernels", "MAMC_JIT_CACHE"}, {"GPU kernels", "MAMC_CUDA_CACHE"}};

static const char *describe_ext(const char *ext) {
  if (!strcmp(ext, "o")) return "CPU kernel objects (LLVM)";
  if (!strcmp(ext, "cubin")) return "GPU kernels (NVRTC, cubin)";
  if (!strcmp(ext, "ptx")) return "GPU kernels (NVRTC, PTX for the driver to finish)";
  return "unknown to this version of mamc";
}

/* Prints what folder dir holds. 0 ok; -1 when it exists but cannot be read. */
static int show(const char *dir, uint64_t limit) {
  BcUsage u;
  char size[32], lim[48];
  if (!bc_usage(dir, &u)) {
    if (errno == ENOENT) {
      printf("%s: not created yet (no entries)\n", dir);
      return 0;
    }
    fprintf(stderr, "mamc cache: cannot read %s: %s\n", dir, strerror(errno));
    return -1;
  }
  cli_human_bytes(size, sizeof size, (double)u.bytes);
  if (limit == UINT64_MAX) {
    snprintf(lim, sizeof lim, "no limit");
  } else {
    char l[32];
    cli_human_bytes(l, sizeof l, (double)limit);
    snprintf(lim, sizeof lim, "limit %s", l);
  }
  printf("%s: %ld entr%s, %s (%s; MAMC_CACHE_MAX)\n", dir, u.files, u.files == 1 ? "y" : "ies", size, lim);
  long listed = 0;
  for (int i = 0; i < u.n_exts; i++) {
    cli_human_bytes(size, sizeof size, (double)u.by_ext[i].bytes);
    printf("  %8ld  %10s  .%-6s %s\n", u.by_ext[i].files, size, u.by_ext[i].ext, describe_ext(u.by_ext[i].ext));
    listed += u.by_ext[i].files;
  }
  if (listed < u.files) printf("  %8ld  in other kinds of entries\n", u.files - listed);
  if (u.temporaries)
    printf("  %8ld  temporary file%s (being written, or left by a killed writer: removed after a day)\n",
           u.temporaries, u.temporaries == 1 ? "" : "s");
  return 0;
}

static int run_cache(int argc, char **argv) {
  const char *dir = NULL;
  int clear = 0;
  uint64_t trim_to = 0;
  int trimming = 0;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_cache.usage, stdout);
      return EXIT_OK;
    } else if (!strcmp(s, "--clear")) {
      clear = 1;
    } else if (!strcmp(s, "--trim") && has) {
      if (!bc_parse_size(argv[++i], &trim_to)) {
        fprintf(stderr, "mamc cache: --trim wants a size like 500M or 2G, not '%s'\n", argv[i]);
        return EXIT_INPUT;
      }
      trimming = 1;
    } else if (!strcmp(s, "--dir") && has) {
      dir = argv[++i];
      if (!*dir) {
        fprintf(stderr, "mamc cache: --dir wants a folder\n");
        return EXIT_INPUT;
      }
    } else {
      fprintf(stderr, "mamc cache: unknown or incomplete option '%s'\n\n%s", s, cmd_cache.usage);
      return EXIT_INPUT;
    }
  }
  if (clear && trimming) {
    fprintf(stderr, "mamc cache: --clear and --trim do not go together (--clear is --trim 0)\n");
    return EXIT_INPUT;
  }
  /* the folders to act on: --dir, or each cache's (once when they are the same) */
  char folders[2][512];
  int n = 0;
  if (dir) {
    snprintf(folders[n++], sizeof folders[0], "%s", dir);
  } else {
    for (int i = 0; i < COUNT_OF(caches); i++) {
      char f[512], label[64];
      bc_choose(NULL, caches[i].env, f, sizeof f);
      snprintf(label, sizeof label, "%s (%s):", caches[i].what, caches[i].env);
      if (!f[0]) printf("%-30s none (%s=%s)\n", label, caches[i].env, getenv(caches[i].env));
      else printf("%-30s %s\n", label, f);
      if (f[0] && !(n == 1 && !strcmp(folders[0], f))) snprintf(folders[n++], sizeof folders[0], "%s", f);
    }
  }
  uint64_t limit = bc_limit();
  int rc = EXIT_OK;
  for (int i = 0; i < n; i++) {
    if (clear || trimming) {
      long removed = bc_trim(folders[i], clear ? 0 : trim_to);
      if (removed < 0 && errno != ENOENT) {
        fprintf(stderr, "mamc cache: cannot read %s: %s\n", folders[i], strerror(errno));
        rc = EXIT_INTERNAL;
        continue;
      }
      printf("%s: removed %ld file%s\n", folders[i], removed < 0 ? 0 : removed, removed == 1 ? "" : "s");
    }
    if (show(folders[i], limit) != 0) rc = EXIT_INTERNAL;
  }
  return rc;
}

const Cmd cmd_cache = {
    "cache", run_cache, "show, trim or clear the caches of compiled kernels",
    "usage: mamc cache [--clear | --trim SIZE] [--dir FOLDER]\n\n"
    "Shows the folders of the kernel caches and what they hold: CPU kernels compiled by LLVM\n"
    "(.o) and GPU kernels compiled by NVRTC (.cubin, .ptx). A run reuses every kernel it finds\n"
    "there instead of compiling it again. Entries are checked when read and compiled again when\n"
    "damaged, so removing any of them is always safe; only files named like entries (and the\n"
    "temporary files of writers) are ever removed, never anything else in the folder.\n\n"
    "options:\n"
    "  --clear        remove every entry (and temporary files)\n"
    "  --trim SIZE    remove the least recently used entries until at most SIZE remain\n"
    "                 (bytes, or with K, M, G, T: 500M, 2G)\n"
    "  --dir FOLDER   that folder instead of the caches' own\n\n"
    "environment:\n"
    "  MAMC_JIT_CACHE    the CPU kernels' folder (default $XDG_CACHE_HOME/mamc, else\n"
    "                    ~/.cache/mamc; 0 or off: none)\n"
    "  MAMC_CUDA_CACHE   the GPU kernels' folder (the same default)\n"
    "  MAMC_CACHE_MAX    the most a folder may hold (default 1G; 0: no limit). Each run removes\n"
    "                    the least recently used entries past it when it opens the folder.\n"};
