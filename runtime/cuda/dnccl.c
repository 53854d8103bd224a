/* dnccl.c — NCCL communicators bootstrapped over MPI, and the two collectives the gradient
 * exchange needs on device buffers (dnccl.h says how sets are created and agreed on). */
#include "dnccl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

void dnccl_version_text(int v, char *out, size_t n) {
  if (v <= 0) {
    snprintf(out, n, "?");
    return;
  }
  int major = v >= 10000 ? v / 10000 : v / 1000, rest = v >= 10000 ? v % 10000 : v % 1000;
  snprintf(out, n, "%d.%d.%d", major, rest / 100, rest % 100);
}

/* One line of plain text: the first line of msg, quotes and backslashes replaced. */
static void plain(char *dst, size_t n, const char *msg) {
  size_t i = 0;
  for (; msg[i] && msg[i] != '\n' && i + 1 < n; i++) {
    char ch = msg[i];
    dst[i] = ch == '"' || ch == '\\' ? '\'' : (unsigned char)ch < 0x20 ? ' ' : ch;
  }
  dst[i] = 0;
}

/* The world's verdict: every rank passes its failure ("" when it succeeded). When any failed,
 * *bad = 1 and `why` receives "rank R: <its message>" for the lowest failing rank (its text is
 * broadcast over the world), on every rank. 0 only for an MPI failure. */
static int agree(DNccl *c, const char *mine, int *bad, char *why, size_t whyn, char *err, size_t n) {
  Dist *ds = c->ds;
  int R = dist_size(ds), me = dist_rank(ds);
  double *v = calloc((size_t)R, sizeof *v);
  int *all = malloc(sizeof(int) * (size_t)R);
  if (!v || !all) return free(v), free(all), snprintf(err, n, "out of memory"), 0;
  v[me] = mine[0] ? 1 : 0;
  int ok = dist_world_sum(ds, v, R, err, n), first = -1;
  for (int r = 0; ok && r < R; r++) {
    all[r] = r;
    if (first < 0 && v[r] != 0) first = r;
  }
  *bad = first >= 0;
  if (ok && first >= 0) {
    float text[64]; /* 256 bytes of text, moved as floats by MPI (bytes, not arithmetic) */
    char line[256];
    memset(text, 0, sizeof text);
    plain(line, sizeof line, mine);
    if (me == first) memcpy(text, line, sizeof line);
    int w = dist_comm(ds, all, R, err, n);
    ok = w >= 0 && dist_bcast(ds, w, text, 64, first, err, n);
    if (ok) {
      memcpy(line, text, sizeof line);
      line[sizeof line - 1] = 0;
      snprintf(why, whyn, "rank %d: %s", first, line);
    }
  }
  free(v);
  free(all);
  return ok;
}

static void set_off(DNccl *c, const char *why) {
  c->on = 0;
  snprintf(c->kind, sizeof c->kind, "mpi-staged");
  plain(c->why, sizeof c->why, why);
}

int dnccl_open(DNccl *c, Dev *dev, Dist *ds, int able, const char *why_not, char *err, size_t n) {
  memset(c, 0, sizeof *c);
  c->dev = dev;
  c->ds = ds;
  c->emu = dev->emu;
  char mine[512] = "";
  const char *env = getenv("MAMC_NCCL");
  int forced_off = env && strcmp(env, "0") == 0;
  if (!able)
    snprintf(mine, sizeof mine, "%s", why_not && *why_not ? why_not : "this rank cannot exchange device buffers");
  else if (forced_off)
    snprintf(mine, sizeof mine, "MAMC_NCCL=0");
  else if (!cu_lib_open(&dev->L, CU_PART_NCCL))
    snprintf(mine, sizeof mine, "%s", dev->L.err);
  else if (!NCCL_OK(&dev->L, ncclGetVersion(&c->version)))
    snprintf(mine, sizeof mine, "%s", dev->L.err);
  int bad = 0;
  char why[400] = "";
  if (!agree(c, mine, &bad, why, sizeof why, err, n)) return 0;
  if (bad) {
    set_off(c, mine[0] ? mine : why); /* this rank's own reason where it has one, else the first rank's */
    return 1;
  }
  char ver[32];
  dnccl_version_text(c->version, ver, sizeof ver);
  c->on = 1;
  snprintf(c->kind, sizeof c->kind, "%s", c->emu ? "nccl-emulated" : "nccl");
  snprintf(c->why, sizeof c->why,
           c->emu ? "NCCL %s (%s) loaded; the device is emulated: MPI collectives on its memory"
                  : "NCCL %s (%s)",
           ver, dev->L.path[3]);
  return 1;
}

int dnccl_find(const DNccl *c, const int *ranks, int n) {
  for (int i = 0; i < c->nsets; i++)
    if (c->sets[i].n == n && memcmp(c->sets[i].ranks, ranks, sizeof(int) * (size_t)n) == 0) return i;
  return -1;
}

int dnccl_need(DNccl *c, const int *ranks, int n) {
  int i = dnccl_find(c, ranks, n);
  if (i >= 0) return i;
  if (c->nsets == c->cap) {
    int nc = c->cap ? 2 * c->cap : 16;
    DNcclSet *v = realloc(c->sets, sizeof *v * (size_t)nc);
    if (!v) return -1;
    c->sets = v;
    c->cap = nc;
  }
  DNcclSet s = {.n = n, .ranks = malloc(sizeof(int) * (size_t)(n ? n : 1)), .comm = -1, .me = -1};
  if (!s.ranks) return -1;
  memcpy(s.ranks, ranks, sizeof(int) * (size_t)n);
  for (int k = 0; k < n; k++)
    if (ranks[k] == dist_rank(c->ds)) s.me = k;
  c->sets[c->nsets] = s;
  return c->nsets++;
}

/* The emulation's "unique id": a text naming the set, written by its lowest rank. */
static void emu_id(const DNcclSet *s, int index, ncclUniqueId *id) {
  memset(id, 0, sizeof *id);
  int o = snprintf(id->internal, sizeof id->internal, "mamc-nccl-emu set %d:", index);
  for (int k = 0; k < s->n && o < (int)sizeof id->internal - 8; k++)
    o += snprintf(id->internal + o, sizeof id->internal - (size_t)o, " %d", s->ranks[k]);
}

static int bcast_id(DNccl *c, DNcclSet *s, ncclUniqueId *id, char *err, size_t n) {
  float buf[sizeof(ncclUniqueId) / sizeof(float)];
  memcpy(buf, id, sizeof buf);
  if (!dist_bcast(c->ds, s->comm, buf, (int64_t)(sizeof buf / sizeof *buf), 0, err, n)) return 0;
  memcpy(id, buf, sizeof buf);
  return 1;
}

/* The verdict after a phase of dnccl_create: 1 when every rank succeeded; else NCCL off. */
static int verdict(DNccl *c, const char *mine, int *fine, char *err, size_t n) {
  int bad = 0;
  char why[400] = "";
  if (!agree(c, mine, &bad, why, sizeof why, err, n)) return 0;
  *fine = !bad;
  if (!bad) return 1;
  for (int i = 0; i < c->nsets; i++) /* local teardown: the peers may have failed */
    if (c->sets[i].nc) {
      c->dev->L.ncclCommAbort(c->sets[i].nc);
      c->sets[i].nc = NULL;
    }
  set_off(c, why);
  return 1;
}

int dnccl_create(DNccl *c, char *err, size_t n) {
  if (!c->on) return 1; /* off on every rank (agreed) */
  int first = 0;
  while (first < c->nsets && c->sets[first].created) first++;
  if (first == c->nsets) return 1; /* nothing new: every rank knows it (the same registrations) */
  int count = c->nsets - first, batch = ++c->batches;
  ncclUniqueId *ids = calloc((size_t)count, sizeof *ids);
  if (!ids) return snprintf(err, n, "out of memory"), 0;
  char mine[600] = "";
  const char *inject = c->emu ? getenv("MAMC_NCCL_EMU_FAIL") : NULL;
  /* 1. MPI communicators and the ids, in registration order (collective over the world) */
  for (int i = first; i < c->nsets; i++) {
    DNcclSet *s = &c->sets[i];
    ncclUniqueId *id = &ids[i - first];
    if ((s->comm = dist_comm(c->ds, s->ranks, s->n, err, n)) < 0) return free(ids), 0;
    if (s->me < 0 || s->n < 2) continue;
    if (s->me == 0) {
      if (c->emu)
        emu_id(s, i, id);
      else if (!mine[0] && !NCCL_OK(&c->dev->L, ncclGetUniqueId(id)))
        snprintf(mine, sizeof mine, "%s", c->dev->L.err); /* the others then get zeros: caught below */
    }
    if (!bcast_id(c, s, id, err, n)) return free(ids), 0;
    if (c->emu) { /* the bootstrap's check: every member holds the lowest rank's id */
      ncclUniqueId want;
      emu_id(s, i, &want);
      if (memcmp(&want, id, sizeof want) != 0 && !mine[0])
        snprintf(mine, sizeof mine, "emulated bootstrap: set %d received another set's id", i);
    }
  }
  /* the ids agreed before any rank waits in ncclCommInitRank */
  int fine = 0;
  if (!verdict(c, mine, &fine, err, n)) return free(ids), 0;
  for (int i = first; !fine && i < c->nsets; i++) c->sets[i].created = 1;
  if (!fine) return free(ids), 1;
  /* 2. this rank's communicators, in one group */
  {
    if (c->emu) {
      const char *at = inject ? strchr(inject, '@') : NULL; /* R, or R@K: rank R's Kth creation fails */
      if (inject && *inject && atoi(inject) == dist_rank(c->ds) && (at ? atoi(at + 1) : 1) == batch)
        snprintf(mine, sizeof mine, "ncclCommInitRank failed: injected (MAMC_NCCL_EMU_FAIL=%s)", inject);
    } else {
      CuLib *L = &c->dev->L;
      int ok = NCCL_OK(L, ncclGroupStart());
      for (int i = first; ok && i < c->nsets; i++) {
        DNcclSet *s = &c->sets[i];
        if (s->me >= 0 && s->n >= 2) ok = NCCL_OK(L, ncclCommInitRank(&s->nc, s->n, ids[i - first], s->me));
      }
      if (!NCCL_OK(L, ncclGroupEnd()) || !ok) { /* "file:line: call failed: message": the message */
        const char *m = strstr(L->err, " failed: ");
        snprintf(mine, sizeof mine, "ncclCommInitRank failed: %s%s%s%s", m ? m + 9 : L->err, c->hint[0] ? " (" : "",
                 c->hint, c->hint[0] ? ")" : "");
      }
    }
  }
  free(ids);
  for (int i = first; i < c->nsets; i++) c->sets[i].created = 1;
  /* 3. the world's verdict on the communicators */
  return verdict(c, mine, &fine, err, n);
}

static DNcclSet *member(DNccl *c, int s, char *err, size_t n) {
  if (!c->on || s < 0 || s >= c->nsets || c->sets[s].me < 0 || !c->sets[s].created) {
    snprintf(err, n, "NCCL collective on set %d: not a created set of this rank (internal error)", s);
    return NULL;
  }
  return &c->sets[s];
}

int dnccl_allreduce(DNccl *c, int s, DPtr buf, int64_t count, char *err, size_t n) {
  DNcclSet *x = member(c, s, err, n);
  if (!x) return 0;
  if (x->n < 2 || count == 0) return 1;
  if (c->emu) { /* the staged exchange's own calls (trainer_buckets.c: iallreduce, wait) */
    int req = -1;
    return dist_iallreduce(c->ds, x->comm, (float *)(uintptr_t)buf, count, &req, err, n) &&
           dist_wait(c->ds, req, err, n);
  }
  CuLib *L = &c->dev->L;
  if (NCCL_OK(L, ncclAllReduce((const void *)(uintptr_t)buf, (void *)(uintptr_t)buf, (size_t)count,
                               MAMC_NCCL_FLOAT32, MAMC_NCCL_SUM, x->nc, c->dev->stream)))
    return 1;
  return snprintf(err, n, "%s", L->err), 0;
}

int dnccl_bcast(DNccl *c, int s, DPtr buf, int64_t count, int root, char *err, size_t n) {
  DNcclSet *x = member(c, s, err, n);
  if (!x) return 0;
  if (x->n < 2 || count == 0) return 1;
  if (c->emu) return dist_bcast(c->ds, x->comm, (float *)(uintptr_t)buf, count, root, err, n);
  CuLib *L = &c->dev->L;
  if (NCCL_OK(L, ncclBroadcast((const void *)(uintptr_t)buf, (void *)(uintptr_t)buf, (size_t)count,
                               MAMC_NCCL_FLOAT32, root, x->nc, c->dev->stream)))
    return 1;
  return snprintf(err, n, "%s", L->err), 0;
}

void dnccl_close(DNccl *c) {
  for (int i = 0; i < c->nsets; i++) {
    if (c->sets[i].nc && c->dev && c->dev->L.ncclCommDestroy) c->dev->L.ncclCommDestroy(c->sets[i].nc);
    free(c->sets[i].ranks);
  }
  free(c->sets);
  c->sets = NULL;
  c->nsets = c->cap = 0;
  c->on = 0;
}
