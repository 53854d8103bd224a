/* safetensors.c — safetensors reader and atomic writer (see safetensors.h). The JSON header
 * is written by hand and read by a small parser that accepts exactly the format's subset:
 * objects, arrays, strings (with escapes) and non-negative integers. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static const char *st_dtype(DType dt) {
  switch (dt) {
  case DT_F32: return "F32";
  case DT_F64: return "F64";
  case DT_BF16: return "BF16";
  case DT_F16: return "F16";
  case DT_I32: return "I32";
  default: return NULL;
  }
}

static int st_dtype_parse(const char *s, DType *dt) {
  for (int d = 0; d < DT_COUNT; d++) {
    const char *n = st_dtype((DType)d);
    if (n && strcmp(n, s) == 0) {
      *dt = (DType)d;
      return 1;
    }
  }
  return 0;
}

static void json_str(StrBuf *b, const char *s) {
  sb_putc(b, '"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      sb_printf(b, "\\%c", c);
    else if (c < 0x20)
      sb_printf(b, "\\u%04x", c);
    else
      sb_putc(b, (char)c);
  }
  sb_putc(b, '"');
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 0;
    c += w;
    n -= (size_t)w;
  }
  return 1;
}

int st_write(const char *path, const StEntry *e, int n, const StMeta *meta, int nmeta, char *err, size_t errlen) {
  StrBuf h;
  sb_init(&h);
  sb_putc(&h, '{');
  if (nmeta) {
    sb_puts(&h, "\"__metadata__\":{");
    for (int i = 0; i < nmeta; i++) {
      if (i) sb_putc(&h, ',');
      json_str(&h, meta[i].key);
      sb_putc(&h, ':');
      json_str(&h, meta[i].value);
    }
    sb_putc(&h, '}');
  }
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    const Tensor *t = e[i].t;
    const char *dt = st_dtype(t->dt);
    if (!dt) {
      snprintf(err, errlen, "%s: tensor '%s' has a dtype safetensors cannot hold", path, e[i].name);
      sb_free(&h);
      return 0;
    }
    uint64_t bytes = (uint64_t)t->n * (uint64_t)dtype_size(t->dt);
    if (nmeta || i) sb_putc(&h, ',');
    json_str(&h, e[i].name);
    sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dt);
    for (int d = 0; d < t->rank; d++) sb_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
    off += bytes;
  }
  sb_putc(&h, '}');
  while (h.len % 8) sb_putc(&h, ' ');
  if (h.failed) {
    snprintf(err, errlen, "%s: out of memory", path);
    sb_free(&h);
    return 0;
  }
  size_t plen = strlen(path) + 32;
  char *tmp = malloc(plen);
  if (!tmp) {
    sb_free(&h);
    snprintf(err, errlen, "%s: out of memory", path);
    return 0;
  }
  snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int ok = fd >= 0;
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
  ok = ok && write_all(fd, len8, 8) && write_all(fd, h.s, h.len);
  for (int i = 0; ok && i < n; i++)
    ok = write_all(fd, e[i].t->data, (size_t)e[i].t->n * (size_t)dtype_size(e[i].t->dt));
  int saved = errno;
  if (ok && fsync(fd) != 0) ok = 0, saved = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = 0, saved = errno;
  if (ok && rename(tmp, path) != 0) ok = 0, saved = errno;
  if (!ok) {
    snprintf(err, errlen, "cannot write '%s': %s", path, strerror(saved ? saved : EIO));
    unlink(tmp);
  }
  free(tmp);
  sb_free(&h);
  return ok;
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct J {
  const char *s, *end;
  char *err;
  size_t errlen;
  const char *path;
} J;

static int jfail(J *j, const char *what) {
  snprintf(j->err, j->errlen, "%s: malformed safetensors header: %s", j->path, what);
  return 0;
}
static void jws(J *j) {
  while (j->s < j->end && (*j->s == ' ' || *j->s == '\n' || *j->s == '\t' || *j->s == '\r')) j->s++;
}
static int jch(J *j, char c) {
  jws(j);
  if (j->s < j->end && *j->s == c) {
    j->s++;
    return 1;
  }
  return 0;
}
static char *jstring(J *j) {
  jws(j);
  if (j->s >= j->end || *j->s != '"') return jfail(j, "expected a string"), NULL;
  j->s++;
  StrBuf b;
  sb_init(&b);
  while (j->s < j->end && *j->s != '"') {
    char c = *j->s++;
    if (c == '\\') {
      if (j->s >= j->end) break;
      c = *j->s++;
      if (c == 'u') {
        if (j->end - j->s < 4) break;
        char hex[5] = {j->s[0], j->s[1], j->s[2], j->s[3], 0};
        long v = strtol(hex, NULL, 16);
        j->s += 4;
        if (v < 0x80) sb_putc(&b, (char)v);
        else if (v < 0x800) sb_putc(&b, (char)(0xc0 | (v >> 6))), sb_putc(&b, (char)(0x80 | (v & 63)));
        else sb_putc(&b, (char)(0xe0 | (v >> 12))), sb_putc(&b, (char)(0x80 | ((v >> 6) & 63))), sb_putc(&b, (char)(0x80 | (v & 63)));
        continue;
      }
      c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
    }
    sb_putc(&b, c);
  }
  if (j->s >= j->end) {
    sb_free(&b);
    return jfail(j, "unterminated string"), NULL;
  }
  j->s++;
  if (!b.s) sb_puts(&b, "");
  return b.s;
}
static int juint(J *j, uint64_t *v) {
  jws(j);
  if (j->s >= j->end || *j->s < '0' || *j->s > '9') return jfail(j, "expected a non-negative integer");
  uint64_t x = 0;
  while (j->s < j->end && *j->s >= '0' && *j->s <= '9') {
    if (x > (UINT64_MAX - 9) / 10) return jfail(j, "integer too large");
    x = x * 10 + (uint64_t)(*j->s++ - '0');
  }
  *v = x;
  return 1;
}

static int read_entry(J *j, StFile *f, const char *name, const unsigned char *data, uint64_t dlen) {
  char *dtype = NULL;
  int64_t shape[IR_MAX_RANK];
  int rank = -1;
  uint64_t o0 = 0, o1 = 0;
  int have_off = 0;
  if (!jch(j, '{')) return jfail(j, "expected '{' for a tensor");
  do {
    char *key = jstring(j);
    if (!key) goto bad;
    if (!jch(j, ':')) {
      free(key);
      jfail(j, "expected ':'");
      goto bad;
    }
    if (strcmp(key, "dtype") == 0) {
      free(dtype);
      dtype = jstring(j);
    } else if (strcmp(key, "shape") == 0) {
      rank = 0;
      if (!jch(j, '[')) { free(key); jfail(j, "expected a shape list"); goto bad; }
      if (!jch(j, ']')) {
        do {
          uint64_t d;
          if (rank == IR_MAX_RANK || !juint(j, &d) || d > ((uint64_t)1 << 40)) { free(key); jfail(j, "bad shape"); goto bad; }
          shape[rank++] = (int64_t)d;
        } while (jch(j, ','));
        if (!jch(j, ']')) { free(key); jfail(j, "expected ']'"); goto bad; }
      }
    } else if (strcmp(key, "data_offsets") == 0) {
      if (!jch(j, '[') || !juint(j, &o0) || !jch(j, ',') || !juint(j, &o1) || !jch(j, ']')) {
        free(key);
        jfail(j, "bad data_offsets");
        goto bad;
      }
      have_off = 1;
    } else {
      free(key);
      jfail(j, "unknown key in a tensor entry");
      goto bad;
    }
    free(key);
  } while (jch(j, ','));
  if (!jch(j, '}')) { jfail(j, "expected '}'"); goto bad; }
  DType dt;
  if (!dtype || !st_dtype_parse(dtype, &dt)) { jfail(j, "unknown or missing dtype"); goto bad; }
  if (rank < 0 || !have_off) { jfail(j, "a tensor needs shape and data_offsets"); goto bad; }
  /* sizes are checked against the file before allocating: a corrupt shape must not ask
   * for terabytes */
  int64_t numel = rt_numel(rank, shape);
  uint64_t bytes = numel < 0 || (uint64_t)numel > UINT64_MAX / 8 ? UINT64_MAX : (uint64_t)numel * (uint64_t)dtype_size(dt);
  if (o1 < o0 || o1 - o0 != bytes || o1 > dlen) {
    snprintf(j->err, j->errlen, "%s: tensor '%s': its data_offsets do not match its shape or the file size", j->path, name);
    goto bad;
  }
  Tensor *t = &f->tensors[f->n];
  if (!rt_tensor_alloc(t, dt, rank, shape)) { jfail(j, "tensor too large"); goto bad; }
  memcpy(t->data, data + o0, (size_t)bytes);
  if (!(f->names[f->n] = strdup(name))) {
    rt_tensor_free(t);
    jfail(j, "out of memory");
    goto bad;
  }
  f->n++;
  free(dtype);
  return 1;
bad:
  free(dtype);
  return 0;
}

static int read_meta(J *j, StFile *f) {
  if (!jch(j, '{')) return jfail(j, "__metadata__ must be an object");
  if (jch(j, '}')) return 1;
  do {
    char *k = jstring(j), *v = NULL;
    if (!k || !jch(j, ':') || !(v = jstring(j))) {
      free(k);
      return k ? jfail(j, "metadata values must be strings") : 0;
    }
    char **nk = realloc(f->meta_keys, sizeof(char *) * (size_t)(f->nmeta + 1));
    if (nk) f->meta_keys = nk;
    char **nv = realloc(f->meta_values, sizeof(char *) * (size_t)(f->nmeta + 1));
    if (nv) f->meta_values = nv;
    if (!nk || !nv) {
      free(k);
      free(v);
      return jfail(j, "out of memory");
    }
    f->meta_keys[f->nmeta] = k;
    f->meta_values[f->nmeta++] = v;
  } while (jch(j, ','));
  return jch(j, '}') ? 1 : jfail(j, "expected '}' after the metadata");
}

int st_read(const char *path, StFile *f, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    return 0;
  }
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0, got;
  int ok = 1;
  do {
    if (len + 65536 > cap) {
      cap = cap ? cap * 2 : 1 << 20;
      unsigned char *nb = realloc(buf, cap);
      if (!nb) { ok = 0; break; }
      buf = nb;
    }
    got = fread(buf + len, 1, cap - len, fp);
    len += got;
  } while (got > 0);
  fclose(fp);
  if (!ok) {
    free(buf);
    snprintf(err, errlen, "%s: out of memory", path);
    return 0;
  }
  ok = st_parse(buf, len, path, f, err, errlen);
  free(buf);
  return ok;
}

int st_parse(const void *bytes, size_t len, const char *path, StFile *f, char *err, size_t errlen) {
  const unsigned char *buf = bytes;
  memset(f, 0, sizeof *f);
  uint64_t hl = 0;
  for (int i = 0; i < 8 && (size_t)i < len; i++) hl |= (uint64_t)buf[i] << (8 * i);
  if (len < 8 || hl > len - 8) {
    snprintf(err, errlen, "%s: not a safetensors file (truncated or bad header length)", path);
    return 0;
  }
  J j = {(const char *)buf + 8, (const char *)buf + 8 + hl, err, errlen, path};
  const unsigned char *data = buf + 8 + hl;
  uint64_t dlen = len - 8 - hl;
  /* upper bound on entries: count '{' in the header */
  int maxn = 1;
  for (const char *c = j.s; c < j.end; c++) maxn += *c == '{';
  f->names = calloc((size_t)maxn, sizeof(char *));
  f->tensors = calloc((size_t)maxn, sizeof(Tensor));
  int ok = f->names && f->tensors;
  if (!ok) jfail(&j, "out of memory");
  ok = ok && (jch(&j, '{') || jfail(&j, "expected '{'"));
  if (ok && !jch(&j, '}')) {
    do {
      char *name = jstring(&j);
      if (!name || !jch(&j, ':')) {
        free(name);
        ok = name ? jfail(&j, "expected ':'") : 0;
        break;
      }
      ok = strcmp(name, "__metadata__") == 0 ? read_meta(&j, f) : read_entry(&j, f, name, data, dlen);
      free(name);
    } while (ok && jch(&j, ','));
    ok = ok && (jch(&j, '}') || jfail(&j, "expected '}' at the end"));
  }
  if (!ok) st_free(f);
  return ok;
}

void st_free(StFile *f) {
  for (int i = 0; i < f->n; i++) {
    free(f->names[i]);
    rt_tensor_free(&f->tensors[i]);
  }
  for (int i = 0; i < f->nmeta; i++) {
    free(f->meta_keys[i]);
    free(f->meta_values[i]);
  }
  free(f->names);
  free(f->tensors);
  free(f->meta_keys);
  free(f->meta_values);
  memset(f, 0, sizeof *f);
}

const Tensor *st_find(const StFile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->names[i], name) == 0) return &f->tensors[i];
  return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
  for (int i = 0; i < f->nmeta; i++)
    if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
  return NULL;
}
