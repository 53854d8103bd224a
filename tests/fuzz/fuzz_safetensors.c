/* fuzz_safetensors.c — fuzz harness for the safetensors reader (runtime/safetensors.c, the
 * checkpoint format): the bytes are a whole file. Properties of a file that reads: every
 * tensor is found by its name and holds exactly shape x dtype bytes, every metadata key is
 * found.
 */
#include "fuzz.h"

#include "safetensors.h"

int fuzz_safetensors(const uint8_t *data, size_t size) {
  StFile f;
  char err[512];
  if (st_parse(data, size, "fuzz.safetensors", &f, err, sizeof err)) {
    for (int i = 0; i < f.n; i++) {
      const Tensor *t = st_find(&f, f.names[i]);
      FUZZ_ASSERT(t != NULL, "tensor '%s' not found", f.names[i]);
      FUZZ_ASSERT(t->n == rt_numel(t->rank, t->shape), "tensor '%s': element count", f.names[i]);
      volatile unsigned char sum = 0; /* touch every byte: ASan checks the size */
      size_t bytes = (size_t)t->n * (size_t)dtype_size(t->dt);
      for (size_t k = 0; k < bytes; k++) sum ^= ((const unsigned char *)t->data)[k];
      (void)sum;
    }
    for (int i = 0; i < f.nmeta; i++) FUZZ_ASSERT(st_meta(&f, f.meta_keys[i]) != NULL, "metadata key lost");
    st_free(&f);
  } else {
    FUZZ_ASSERT(err[0] != 0, "a rejected file must come with a message");
  }
  return 0;
}

FUZZ_TARGET(fuzz_safetensors)
