/* cli_dist.h — the distributed view shared by `mamc place`, `mamc plan` and `mamc ir --rank`:
 * placement inputs from a run configuration, the placement applied to the program, and each
 * rank's task schedule (per-rank samplers: docs/distributed.md). */
#ifndef MAMC_CLI_DIST_H
#define MAMC_CLI_DIST_H

#include "cli.h"
#include "dist_setup.h"

/* For `mamc ir` / `mamc check` with --rank / --processes: sets l->prog->target (placing the
 * tasks first when a configuration was loaded). Returns EXIT_OK or EXIT_INPUT. */
int cli_dist_target(Loaded *l, const ModelOpts *o);

/* Removes "NAME VALUE" from argv (options the shared parser does not know) into *v; 0 (after
 * a message) when the value is not an integer, 1 otherwise (v unchanged when absent). */
int cli_take_int(int *argc, char **argv, const char *name, long long *v);
/* "1.25 MiB", "3.0 KiB", "12 B" */
void cli_human_bytes(char *s, size_t n, double bytes);

#endif
