/* fuzz_ir.c — fuzz harness for the IR text parser and the verifier (ir/parse*.c,
 * ir/verify.c), and the pass pipeline on what they accept (`mamc ir --ir FILE --after PASS`
 * runs it on a user's IR text). Properties of a program that parses and verifies: it prints
 * to text that parses back, verifies, and prints identically (the text form round-trips
 * exactly); the pipeline either reports an error or leaves a program that verifies and
 * round-trips.
 */
#include "fuzz.h"

#include "ir.h"
#include "pipeline.h"

enum { MAX_PIPELINE_NODES = 3000 };

static void check_pipeline(IrProgram *p) {
  int nodes = 0;
  for (int g = 0; g < p->graphs.n; g++) nodes += p->graphs.v[g].nodes.n;
  if (nodes > MAX_PIPELINE_NODES) return;
  Diag d;
  diag_init(&d);
  PipelineOpts o = {.verify = 1};
  if (pass_run(p, &o, &d)) {
    StrBuf b1, b2;
    sb_init(&b1);
    sb_init(&b2);
    ir_print_program(&b1, p);
    Arena a;
    arena_init(&a);
    IrProgram q;
    ir_program_init(&q, &a);
    SrcFile *f = srcfile_from_string(&a, "after.mir", fuzz_text(&b1));
    Diag d2;
    diag_init(&d2);
    FUZZ_ASSERT(ir_parse(&q, f, &d2) && ir_verify(&q, &d2), "after the pipeline, the program does not parse back:\n%s\n%s",
                fuzz_text(&d2.out), fuzz_text(&b1));
    ir_print_program(&b2, &q);
    FUZZ_ASSERT(strcmp(fuzz_text(&b1), fuzz_text(&b2)) == 0, "after the pipeline, print(parse(print(p))) != print(p)");
    diag_free(&d2);
    arena_free(&a);
    sb_free(&b1);
    sb_free(&b2);
  } else {
    FUZZ_ASSERT(d.nerrors > 0, "the pipeline failed without a diagnostic");
  }
  diag_free(&d);
}

int fuzz_ir(const uint8_t *data, size_t size) {
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  SrcFile *src = fuzz_srcfile(&a, "fuzz.mir", data, size);
  IrProgram p;
  ir_program_init(&p, &a);
  if (src && ir_parse(&p, src, &d) && ir_verify(&p, &d)) {
    StrBuf b1, b2;
    sb_init(&b1);
    sb_init(&b2);
    ir_print_program(&b1, &p);
    Arena a2;
    arena_init(&a2);
    IrProgram q;
    ir_program_init(&q, &a2);
    SrcFile *f2 = srcfile_from_string(&a2, "printed.mir", fuzz_text(&b1));
    int ok = ir_parse(&q, f2, &d) && ir_verify(&q, &d);
    FUZZ_ASSERT(ok, "the printed program does not parse back:\n%s\n%s", fuzz_text(&d.out), fuzz_text(&b1));
    ir_print_program(&b2, &q);
    FUZZ_ASSERT(strcmp(fuzz_text(&b1), fuzz_text(&b2)) == 0, "print(parse(print(p))) != print(p):\n%s\n----\n%s",
                fuzz_text(&b1), fuzz_text(&b2));
    arena_free(&a2);
    sb_free(&b1);
    sb_free(&b2);
    check_pipeline(&p);
  }
  diag_free(&d);
  arena_free(&a);
  return 0;
}

FUZZ_TARGET(fuzz_ir)
