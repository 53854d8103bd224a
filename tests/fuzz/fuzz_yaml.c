/* fuzz_yaml.c — fuzz harness for the run-configuration loader (frontend/config*.c on
 * libyaml). Properties of a configuration that loads: its normalised dump (config_dump,
 * "valid YAML that loads to the same configuration") loads again and dumps identically;
 * cfg_loc answers for the keys the dump names.
 */
#include "fuzz.h"

#include "config.h"

int fuzz_yaml(const uint8_t *data, size_t size) {
  if (memchr(data, 0, size)) return 0; /* a file read rejects NUL bytes */
  Arena a;
  arena_init(&a);
  Diag d;
  diag_init(&d);
  char *text = arena_strndup(&a, (const char *)data, size);
  RunConfig *cfg = config_load_string(&a, &d, "fuzz.yaml", text);
  if (cfg) {
    StrBuf b1, b2;
    sb_init(&b1);
    sb_init(&b2);
    config_dump(&b1, cfg);
    static const char *const keys[] = {"index", "vocab", "tasks[0].weight", "tasks[1].path", "train.lr",
                                       "sync.default", "checkpoint.dir", "dept.variant"};
    for (int i = 0; i < COUNT_OF(keys); i++) (void)cfg_loc(cfg, keys[i]);
    Diag d2;
    diag_init(&d2);
    RunConfig *again = config_load_string(&a, &d2, "dumped.yaml", fuzz_text(&b1));
    FUZZ_ASSERT(again, "the dump of a valid configuration does not load:\n%s\n----\n%s", fuzz_text(&d2.out),
                fuzz_text(&b1));
    config_dump(&b2, again);
    FUZZ_ASSERT(strcmp(fuzz_text(&b1), fuzz_text(&b2)) == 0, "dump(load(dump(c))) != dump(c):\n%s\n----\n%s",
                fuzz_text(&b1), fuzz_text(&b2));
    diag_free(&d2);
    sb_free(&b1);
    sb_free(&b2);
  }
  diag_free(&d);
  arena_free(&a);
  return 0;
}

FUZZ_TARGET(fuzz_yaml)
