/* test_safetensors.c — safetensors files: a round trip of every dtype with metadata, the
 * layout other readers expect (8-byte little-endian header length, JSON header, aligned
 * data), and corrupt files (truncated, bad header length, offsets beyond the data, broken
 * JSON, unknown dtype) rejected with a message instead of a crash. */
#include <stdlib.h>
#include <unistd.h>

#include "rng.h"
#include "safetensors.h"
#include "test.h"

static char dir[] = "/tmp/mamc-st-XXXXXX";

static void write_raw(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

static void expect_error(const char *name, const void *data, size_t n, const char *what) {
  char path[256], err[512] = "";
  snprintf(path, sizeof path, "%s/%s", dir, name);
  write_raw(path, data, n);
  StFile f;
  int ok = st_read(path, &f, err, sizeof err);
  CHECK_MSG(!ok && strstr(err, what), "%s: expected an error containing '%s', got '%s'", name, what, err);
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  Tensor t[5];
  DType dts[5] = {DT_F32, DT_F64, DT_BF16, DT_F16, DT_I32};
  const char *names[5] = {"w.f32", "layer.0.\"q\"", "b", "h", "ids"};
  StEntry e[5];
  for (int i = 0; i < 5; i++) {
    int64_t shape[3] = {2, 3, i + 1};
    rt_tensor_alloc(&t[i], dts[i], i == 4 ? 1 : 3, shape);
    rt_tensor_fill_normal(&t[i], rng_key(7, (uint64_t)i), 0, 1);
    if (dts[i] == DT_I32)
      for (int64_t k = 0; k < t[i].n; k++) ((int32_t *)t[i].data)[k] = (int32_t)(k * 7 - 3);
    e[i] = (StEntry){names[i], &t[i]};
  }
  StMeta meta[2] = {{"module", "embed[fr]"}, {"step", "42"}};
  char path[256], err[512];
  snprintf(path, sizeof path, "%s/ok.safetensors", dir);
  CHECK_MSG(st_write(path, e, 5, meta, 2, err, sizeof err), "%s", err);
  StFile f;
  CHECK_MSG(st_read(path, &f, err, sizeof err), "%s", err);
  CHECK(f.n == 5);
  for (int i = 0; i < 5; i++) {
    const Tensor *r = st_find(&f, names[i]);
    CHECK_MSG(r && r->dt == t[i].dt && rt_same_shape(r, &t[i]) &&
                  memcmp(r->data, t[i].data, (size_t)t[i].n * (size_t)dtype_size(t[i].dt)) == 0,
              "tensor %s does not round-trip", names[i]);
  }
  CHECK_STR(st_meta(&f, "module"), "embed[fr]");
  CHECK_STR(st_meta(&f, "step"), "42");
  st_free(&f);
  /* layout: header length little-endian, JSON starts with '{', data 8-aligned */
  FILE *fp = fopen(path, "rb");
  unsigned char h[9];
  CHECK(fread(h, 1, 9, fp) == 9);
  fclose(fp);
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)h[i] << (8 * i);
  CHECK(h[8] == '{' && hl % 8 == 0);
  /* corrupt files */
  expect_error("empty", "", 0, "not a safetensors file");
  unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'};
  expect_error("biglen", big, 16, "not a safetensors file");
  const char *bad_json = "\x10\0\0\0\0\0\0\0{\"a\":{\"dtype\":   ";
  expect_error("json", bad_json, 8 + 16, "malformed");
  char off[128];
  const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
  size_t hlen = strlen(hdr);
  memset(off, 0, sizeof off);
  off[0] = (char)hlen;
  memcpy(off + 8, hdr, hlen);
  expect_error("short", off, 8 + hlen + 8, "data_offsets do not match");
  const char *hdr2 = "{\"a\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  hlen = strlen(hdr2);
  memset(off, 0, sizeof off);
  off[0] = (char)hlen;
  memcpy(off + 8, hdr2, hlen);
  expect_error("dtype", off, 8 + hlen + 4, "unknown or missing dtype");
  /* a truncated copy of the good file */
  fp = fopen(path, "rb");
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, fp);
  fclose(fp);
  expect_error("truncated", buf, n - 5, "do not match");
  for (int i = 0; i < 5; i++) rt_tensor_free(&t[i]);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return test_done();
}
