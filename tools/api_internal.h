/* api_internal.h — a door from the public API's opaque objects to the runtime objects behind
 * them, for the project's own benchmarks (bench/). Not installed. */
#ifndef MAMC_API_INTERNAL_H
#define MAMC_API_INTERNAL_H

#include "mamc/mamc.h"
#include "trainer.h"

Trainer *mamc_trainer_runtime(mamc_trainer *t);

#endif
