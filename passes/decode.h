/* decode.h — the decode pass (letter D): from a forward task graph, the two programs that
 * decoding runs (docs/decoding.md): an encoder program (everything that does not depend on
 * the target) and a one-step decoder program with key/value caches and recurrent states.
 *
 * For task graph @t(a, b) the pass appends two graphs and adds an output `logits` to @t:
 *
 *   @t.encode(a, b) (%src: ...)                       -> (enc.0, enc.1, ...)
 *   @t.step(a, b)   (%tok: i32[B, 1], %pos: i32[], %enc.0, ..., %cache.0, ..., %state.0, ...)
 *                                                     -> (logits: f32[B, V], cache.0, ..., state.0, ...)
 *
 * tok is the newest token of each row, pos its position (the number of tokens before it),
 * enc.N the encoder values (rows along axis 0 when their dim 0 is the batch symbol),
 * cache.N the keys / values / key masks of a causal attention for the positions before pos
 * (the axis of the symbol P), returned as the new position's rows to append along that axis,
 * and state.N the state of a causal linear attention, returned as the state after pos.
 * Graphs it made (tasks ending in .encode / .step), and graphs it already derived, are left
 * alone, so running it twice changes nothing.
 */
#ifndef MAMC_DECODE_H
#define MAMC_DECODE_H

#include "ir.h"

#define DECODE_ENCODE_SUFFIX ".encode"
#define DECODE_STEP_SUFFIX ".step"

int pass_decode(IrProgram *p, int graph, Diag *d);

/* The encoder and step graphs derived from task graph `graph` (-1 when absent); 1 if both. */
int pass_decode_graphs(const IrProgram *p, int graph, int *encode, int *step);

#endif
