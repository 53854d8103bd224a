/* test_ops.c — every op of ir/ops.def against an independent float64 reference (label golden).
 *
 * The loop runs over OP_COUNT: an op added to ops.def without a test here fails. Each op's
 * test (ops_ew.c, ops_move.c, ops_nn.c, ops_linattn.c, ops_dept.c) builds one-op graphs with random shapes (symbolic
 * dims bound, broadcasting, negative axes, keepdim, ta/tb, causal and masked attention, every
 * linear_attention feature/gate/norm/state, cross_entropy smoothing and ignore), runs interp_node at f64
 * and f32, and prints one OK / NOT OK line per op with the max relative difference.
 * MAMC_TEST_SEED=<n> replays a run (the seed is printed first and on every failure).
 */
#include "harness.h"

int main(void) {
  OpTest tests[OP_COUNT] = {0};
  register_ew(tests);
  register_move(tests);
  register_nn(tests);
  register_linattn(tests);
  register_dept(tests);
  printf("interp ops vs float64 reference, MAMC_TEST_SEED=%llu\n", (unsigned long long)h_seed());
  for (int op = 0; op < OP_COUNT; op++) {
    h_op_begin((Op)op);
    if (!tests[op])
      h_fail("%s: no reference test (add one in tests/interp/ops_*.c)", op_info((Op)op)->name);
    else
      tests[op]((Op)op);
    h_op_end((Op)op);
  }
  if (h_failures()) {
    fprintf(stderr, "NOT OK: %d failures in %d runs\n", h_failures(), h_checks());
    return 1;
  }
  printf("OK: %d ops, %d runs\n", OP_COUNT, h_checks());
  return 0;
}
