/* trainer_ckpt.c — checkpoints of a Trainer (see trainer.h), and small helpers it shares.
 *
 * Layout:  DIR/step-00000300/<module>.safetensors   parameters "<param>" and moments
 *                                                    "<param>.adam_m", "<param>.adam_v";
 *                                                    metadata: module, step (its own count);
 *                                                    outer rounds: "outer.anchor.<param>",
 *                                                    "outer.momentum.<param>", and
 *                                                    "outer.row_tokens.<param>" (TRIM), metadata
 *                                                    round_tokens
 *          DIR/step-00000300/<module>.rank-R.safetensors  the same for holder R's own replica
 *                                                    of a module not exchanged every step
 *          DIR/step-00000300/frame.json              step, seed, tasks and data positions
 *          DIR/latest                                "step-00000300"
 *          DIR/best/                                 the best validation so far (trainer_save_best),
 *                                                    the same files and best.json
 * A checkpoint is written into DIR/.step-00000300.tmp and renamed when complete, so a
 * listed checkpoint is always whole.
 */
#include "trainer_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dist.h"
#include "safetensors.h"

int tbatch_copy(TBatch *dst, const Batch *b) {
  size_t ns = (size_t)b->B * (size_t)b->S, nt = (size_t)b->B * (size_t)b->T;
  dst->src = b->src ? malloc(sizeof(int32_t) * (ns ? ns : 1)) : NULL;
  dst->tgt = malloc(sizeof(int32_t) * (nt ? nt : 1));
  if ((b->src && !dst->src) || !dst->tgt) {
    tbatch_free(dst);
    return 0;
  }
  if (b->src) memcpy(dst->src, b->src, sizeof(int32_t) * ns);
  memcpy(dst->tgt, b->tgt, sizeof(int32_t) * nt);
  dst->B = b->B;
  dst->S = b->S;
  dst->T = b->T;
  dst->src_tokens = b->src_tokens;
  dst->tgt_tokens = b->tgt_tokens;
  return 1;
}

void tbatch_free(TBatch *b) {
  free(b->src);
  free(b->tgt);
  memset(b, 0, sizeof *b);
}

Batch tbatch_view(const TBatch *b) {
  Batch v = {0};
  v.B = b->B;
  v.S = b->S;
  v.T = b->T;
  v.src = b->src;
  v.tgt = b->tgt;
  v.src_tokens = b->src_tokens;
  v.tgt_tokens = b->tgt_tokens;
  return v;
}

int tparams_zero_like(ParamStore *dst, const ParamStore *src) {
  memset(dst, 0, sizeof *dst);
  dst->nmodules = src->nmodules;
  dst->n = src->n;
  dst->seed = src->seed;
  dst->fdt = src->fdt;
  dst->first = malloc(sizeof(int) * (size_t)(src->nmodules + 1));
  dst->t = calloc((size_t)(src->n ? src->n : 1), sizeof(Tensor));
  if (!dst->first || !dst->t) return 0;
  memcpy(dst->first, src->first, sizeof(int) * (size_t)(src->nmodules + 1));
  for (int i = 0; i < src->n; i++) /* empty (not held) stays empty */
    if (src->t[i].data && !rt_tensor_alloc(&dst->t[i], src->t[i].dt, src->t[i].rank, src->t[i].shape)) return 0;
  return 1;
}

/* ---- saving ------------------------------------------------------------------------------------- */

static int mkdir_p(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) return 0;
      *p = '/';
    }
  return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

static int rm_tree(const char *path) {
  DIR *d = opendir(path);
  if (!d) return unlink(path) == 0;
  struct dirent *e;
  char sub[4096];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    rm_tree(sub);
  }
  closedir(d);
  return rmdir(path) == 0;
}

static int write_text(const char *path, const char *text, char *err, size_t n) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  /* every step is checked: on a full disk fputs succeeds into the buffer and only the flush
   * (or fsync, or close) fails; renaming a short file over `latest` would lose the pointer */
  int ok = f && fputs(text, f) >= 0 && fflush(f) == 0 && (fsync(fileno(f)) == 0 || errno == EINVAL);
  int saved = errno;
  if (f && fclose(f) != 0 && ok) ok = 0, saved = errno;
  if (ok && rename(tmp, path) != 0) ok = 0, saved = errno;
  if (!ok) {
    snprintf(err, n, "cannot write '%s': %s", path, strerror(saved ? saved : EIO));
    unlink(tmp);
  }
  return ok;
}

/* 1 if module m is combined in outer rounds (its anchor, momentum and round tokens matter). */
static int outer_module(const Trainer *t, int m) {
  return t->has_outer && t->groups[t->group_of[m]].sync.kind == SYNC_OUTER;
}

/* Writes module m's replica on this process to DIR/<stem>.safetensors: parameters, AdamW
 * moments and, for a module in outer rounds (DEPT), the round's state: the anchor
 * "outer.anchor.<param>", the outer momentum "outer.momentum.<param>", the tokens behind each
 * row of a trimmed table "outer.row_tokens.<param>" (f64) and the module's round tokens
 * (metadata "round_tokens", exact as %.17g). */
static int save_module(Trainer *t, int m, const char *dir, const char *stem, char *err, size_t n) {
  const IrModule *mod = &t->train->modules.v[m];
  int first = t->params.first[m], np = t->params.first[m + 1] - first, outer = outer_module(t, m);
  StEntry *e = calloc((size_t)(6 * np + 1), sizeof(StEntry));
  char **names = calloc((size_t)(6 * np + 1), sizeof(char *));
  Tensor *rows = calloc((size_t)np + 1, sizeof(Tensor)); /* views of row_tokens (not owned) */
  int ne = 0, ok = e && names && rows;
  for (int q = 0; ok && q < np; q++) {
    const char *pn = mod->params.v[q].name;
    const char *suffix[6] = {"", ".adam_m", ".adam_v", "outer.anchor.", "outer.momentum.", "outer.row_tokens."};
    const Tensor *ts[6] = {&t->params.t[first + q], &t->m.t[first + q], &t->v.t[first + q], NULL, NULL, NULL};
    if (outer && t->anchor.t[first + q].data) ts[3] = &t->anchor.t[first + q], ts[4] = &t->outer_m.t[first + q];
    if (outer && t->row_tokens && t->row_tokens[first + q]) {
      Tensor *r = &rows[q];
      r->dt = DT_F64, r->rank = 1, r->shape[0] = r->n = t->params.t[first + q].shape[0];
      r->data = t->row_tokens[first + q];
      ts[5] = r;
    }
    for (int s = 0; s < 6; s++) {
      if (!ts[s]) continue;
      size_t len = strlen(pn) + 24;
      names[ne] = malloc(len);
      if (!names[ne]) { ok = 0; break; }
      if (s < 3) snprintf(names[ne], len, "%s%s", pn, suffix[s]);
      else snprintf(names[ne], len, "%s%s", suffix[s], pn);
      e[ne] = (StEntry){names[ne], ts[s]};
      ne++;
    }
  }
  char path[4096], steps[32], rt[40];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, stem);
  snprintf(steps, sizeof steps, "%lld", (long long)t->module_steps[m]);
  snprintf(rt, sizeof rt, "%.17g", outer ? t->round_tokens[m] : 0.0);
  StMeta meta[4] = {{"module", mod->name}, {"block", mod->block ? mod->block : ""}, {"optimizer_steps", steps},
                    {"round_tokens", rt}};
  if (ok) ok = st_write(path, e, ne, meta, outer ? 4 : 3, err, n);
  else snprintf(err, n, "out of memory");
  for (int i = 0; i < ne; i++) free(names[i]);
  free(names);
  free(e);
  free(rows);
  return ok;
}

/* Keeps the `keep` newest checkpoints of dir, counting `written` (the one just saved) among them
   and never removing it, even when older runs left higher step numbers behind (a fine-tune
   writing step-2 beside a pretraining's step-6). */
static void prune(const char *dir, int keep, const char *written) {
  if (keep <= 0) return;
  DIR *d = opendir(dir);
  if (!d) return;
  char names[1024][32];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 1024)
    if (strncmp(e->d_name, "step-", 5) == 0 && strlen(e->d_name) < 32 && strcmp(e->d_name, written) != 0)
      memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
  closedir(d);
  /* names are zero-padded: lexical order is step order */
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(names[j], names[i]) < 0) {
        char tmp[32];
        memcpy(tmp, names[i], 32);
        memcpy(names[i], names[j], 32);
        memcpy(names[j], tmp, 32);
      }
  char path[4096];
  for (int i = 0; i + keep - 1 < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    rm_tree(path);
  }
}

static int holder_writes(const Trainer *t, int m) { /* this process writes module m */
  return t->held[m] && (t->emulate || t->groups[t->group_of[m]].holders[0] == t->rank);
}

/* A module that is not exchanged every step (outer rounds, local) has a replica of its own on
 * each holder between rounds (and its own AdamW moments): the holders above the lowest write
 * theirs to <module>.rank-<r>.safetensors, which a resumed run with the same ranks reads
 * back — so a run stopped mid-round resumes bit-identically. Subset loads ignore them. */
static int replica_writes(const Trainer *t, int m) {
  const TGroup *g = &t->groups[t->group_of[m]];
  return t->held[m] && !t->emulate && !g->exchanged && g->nholders > 1 && g->holders[0] != t->rank;
}

/* 1 if every rank's ok is 1 (a collective: every rank calls it at the same point). */
static int all_ok(Trainer *t, int ok) {
  double bad = ok ? 0 : 1;
  char err[256];
  if (t->opts.dist && !dist_world_sum(t->opts.dist, &bad, 1, err, sizeof err)) return 0;
  return bad == 0;
}

/* Writes DIR/name; with `step_folder`, DIR/latest names it and older step folders are pruned
 * to `keep`; `note` (or NULL) is written into it as best.json before the rename. */
static int save_as(Trainer *t, const char *dir, const char *name, int step_folder, int keep, const char *note,
                   Diag *d) {
  char err[512] = "", tmp[4096], fin[4096];
  if (t->dev && !tdev_pull(t, d)) return 0; /* train.device: cuda (fails only in single-process runs) */
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(fin, sizeof fin, "%s/%s", dir, name);
  int lead = t->rank == 0, ok = 1;
  if (lead) {
    rm_tree(tmp);
    if (!mkdir_p(tmp)) {
      snprintf(err, sizeof err, "cannot create the checkpoint folder '%s': %s", tmp, strerror(errno));
      ok = 0;
    }
  }
  if (!all_ok(t, ok)) goto fail; /* the folder exists for everyone from here */
  for (int m = 0; ok && m < t->train->modules.n; m++) {
    char stem[600];
    snprintf(stem, sizeof stem, "%s.rank-%d", t->train->modules.v[m].name, t->rank);
    if (holder_writes(t, m)) ok = save_module(t, m, tmp, t->train->modules.v[m].name, err, sizeof err);
    else if (replica_writes(t, m)) ok = save_module(t, m, tmp, stem, err, sizeof err);
  }
  /* every task's data position, from its owner: summed over ranks (others add zeros) */
  double *pos = calloc((size_t)(4 * t->ntasks + 1), sizeof(double));
  if (!pos) ok = 0;
  for (int k = 0; pos && k < t->ntasks; k++)
    if (t->tasks[k].owned && (t->emulate || t->tasks[k].spec.rank == t->rank)) {
      BatchState st = batcher_state(t->tasks[k].batcher);
      pos[4 * k] = (double)st.epoch;
      pos[4 * k + 1] = (double)st.position;
      pos[4 * k + 2] = (double)(st.fingerprint >> 32);
      pos[4 * k + 3] = (double)(st.fingerprint & 0xffffffffu);
    }
  if (pos && t->opts.dist && !dist_world_sum(t->opts.dist, pos, 4 * t->ntasks, err, sizeof err)) ok = 0;
  if (!all_ok(t, ok)) {
    free(pos);
    goto fail;
  }
  if (lead) {
    StrBuf b;
    sb_init(&b);
    sb_printf(&b, "{\n  \"format\": \"mamc-checkpoint v1\",\n  \"step\": %lld,\n  \"seed\": %llu,\n  \"ranks\": %d,\n"
                  "  \"rng\": \"counter-based: every draw is a function of (seed, step); nothing else to save\",\n"
                  "  \"tasks\": [",
              (long long)t->step, (unsigned long long)t->opts.seed, t->nranks);
    for (int k = 0; k < t->ntasks; k++) {
      uint64_t fp = ((uint64_t)pos[4 * k + 2] << 32) | (uint64_t)pos[4 * k + 3];
      sb_printf(&b, "%s\n    {\"name\": \"%s\", \"epoch\": %lld, \"position\": %lld, \"fingerprint\": \"%016llx\"}",
                k ? "," : "", t->tasks[k].spec.name, (long long)pos[4 * k], (long long)pos[4 * k + 1],
                (unsigned long long)fp);
    }
    sb_puts(&b, "\n  ],\n");
    if (t->opts.frame_extra) sb_printf(&b, "%s,\n", t->opts.frame_extra);
    sb_puts(&b, "  \"modules\": [");
    for (int m = 0; m < t->train->modules.n; m++)
      sb_printf(&b, "%s\"%s\"", m ? ", " : "", t->train->modules.v[m].name);
    sb_puts(&b, "]\n}\n");
    char fpath[4200];
    snprintf(fpath, sizeof fpath, "%s/frame.json", tmp);
    ok = !b.failed && write_text(fpath, b.s, err, sizeof err);
    sb_free(&b);
    if (ok && note) {
      snprintf(fpath, sizeof fpath, "%s/best.json", tmp);
      ok = write_text(fpath, note, err, sizeof err);
    }
    if (ok) {
      /* a folder of the same step (a resumed run saving again) goes only once the new one is
       * in place: if the rename fails, the one `latest` may name is put back */
      char old[4200];
      snprintf(old, sizeof old, "%s/.%s.old", dir, name);
      rm_tree(old);
      int had = rename(fin, old) == 0;
      if (rename(tmp, fin) != 0) {
        snprintf(err, sizeof err, "cannot rename the finished checkpoint to '%s': %s", name, strerror(errno));
        ok = 0;
        if (had) rename(old, fin);
      } else if (had) {
        rm_tree(old);
      }
    }
    char latest[4200], content[80];
    snprintf(latest, sizeof latest, "%s/latest", dir);
    snprintf(content, sizeof content, "%s\n", name);
    if (ok && step_folder) ok = write_text(latest, content, err, sizeof err);
    if (ok && step_folder) prune(dir, keep, name);
  }
  free(pos);
  if (!all_ok(t, ok)) goto fail;
  return 1;
fail:
  diag_plain(d, "checkpoint (rank %d): %s", t->rank, err[0] ? err : "another rank failed to write its part");
  if (lead) rm_tree(tmp);
  return 0;
}

int trainer_save(Trainer *t, const char *dir, int keep, Diag *d) {
  char name[64];
  snprintf(name, sizeof name, "step-%08lld", (long long)t->step);
  return save_as(t, dir, name, 1, keep, NULL, d);
}

int trainer_save_best(Trainer *t, const char *dir, const char *note_json, Diag *d) {
  return save_as(t, dir, "best", 0, 0, note_json, d);
}

int trainer_dump_replicas(Trainer *t, const char *dir, Diag *d) {
  char sub[4096], err[512];
  if (t->dev && !tdev_pull(t, d)) return 0; /* train.device: cuda */
  snprintf(sub, sizeof sub, "%s/rank-%d", dir, t->rank);
  if (!mkdir_p(sub)) {
    diag_plain(d, "cannot create '%s': %s", sub, strerror(errno));
    return 0;
  }
  for (int m = 0; m < t->train->modules.n; m++)
    if (t->held[m] && !save_module(t, m, sub, t->train->modules.v[m].name, err, sizeof err)) {
      diag_plain(d, "%s", err);
      return 0;
    }
  return 1;
}

/* ---- loading -------------------------------------------------------------------------------------- */

static int resolve_ckpt(const char *path, char *out, size_t n) {
  char latest[4200];
  snprintf(latest, sizeof latest, "%s/latest", path);
  FILE *f = fopen(latest, "r");
  if (!f) {
    snprintf(out, n, "%s", path);
    return 1;
  }
  char name[128] = {0};
  int ok = fgets(name, sizeof name, f) != NULL;
  fclose(f);
  name[strcspn(name, "\n")] = 0;
  snprintf(out, n, "%s/%s", path, name);
  return ok;
}

/* Copies tensor `key` of sf into dst (converting dtype); 0 if absent or of another shape. */
static int copy_from(const StFile *sf, const char *key, Tensor *dst) {
  const Tensor *src = st_find(sf, key);
  if (!src || !rt_same_shape(src, dst)) return 0;
  Tensor conv = {0};
  if (!rt_tensor_convert(src, dst->dt, &conv)) return 0;
  memcpy(dst->data, conv.data, (size_t)conv.n * (size_t)dtype_size(conv.dt));
  rt_tensor_free(&conv);
  return 1;
}

/* Reads the checkpoint folder (resolving DIR/latest) and its step. */
static int open_ckpt(const char *path, char *dir, size_t n, int64_t *step, Diag *d) {
  if (!resolve_ckpt(path, dir, n)) {
    diag_plain(d, "cannot read '%s/latest'", path);
    return 0;
  }
  char fpath[4200];
  snprintf(fpath, sizeof fpath, "%s/frame.json", dir);
  FILE *f = fopen(fpath, "r");
  if (!f) {
    diag_plain(d, "'%s' is not a mamc checkpoint (no frame.json)", dir);
    return 0;
  }
  char line[512];
  *step = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, " \"step\": %lld", (long long *)step) == 1) break;
  fclose(f);
  return 1;
}

/* Restores each owned task's data position from frame.json's task lines. */
static int restore_positions(Trainer *t, const char *dir, Diag *d) {
  char fpath[4200], line[1024];
  snprintf(fpath, sizeof fpath, "%s/frame.json", dir);
  FILE *f = fopen(fpath, "r");
  if (!f) return diag_plain(d, "cannot open '%s'", fpath), 0;
  int ok = 1;
  while (ok && fgets(line, sizeof line, f)) {
    char name[512];
    long long epoch, position;
    unsigned long long fp;
    if (sscanf(line, " {\"name\": \"%511[^\"]\", \"epoch\": %lld, \"position\": %lld, \"fingerprint\": \"%llx\"", name,
               &epoch, &position, &fp) != 4)
      continue;
    for (int k = 0; k < t->ntasks; k++)
      if (t->tasks[k].owned && t->tasks[k].batcher && strcmp(t->tasks[k].spec.name, name) == 0) {
        BatchState st = {epoch, position, fp};
        if (batcher_restore(t->tasks[k].batcher, st, d) != 0) ok = 0;
      }
  }
  fclose(f);
  return ok;
}

/* The outer-round state of module m from sf (save_module); anchored[q]: the anchor came back. */
static void load_outer(Trainer *t, int m, const StFile *sf, char *anchored) {
  if (!outer_module(t, m)) return;
  const IrModule *mod = &t->train->modules.v[m];
  for (int q = 0; q < mod->params.n; q++) {
    int pq = t->params.first[m] + q;
    char key[600];
    snprintf(key, sizeof key, "outer.anchor.%s", mod->params.v[q].name);
    if (!t->anchor.t[pq].data || !copy_from(sf, key, &t->anchor.t[pq])) continue;
    anchored[pq] = 1;
    snprintf(key, sizeof key, "outer.momentum.%s", mod->params.v[q].name);
    copy_from(sf, key, &t->outer_m.t[pq]);
    snprintf(key, sizeof key, "outer.row_tokens.%s", mod->params.v[q].name);
    const Tensor *rt = st_find(sf, key);
    if (rt && t->row_tokens && t->row_tokens[pq] && rt->dt == DT_F64 && rt->n == t->params.t[pq].shape[0])
      memcpy(t->row_tokens[pq], rt->data, sizeof(double) * (size_t)rt->n);
  }
  const char *rtok = st_meta(sf, "round_tokens");
  t->round_tokens[m] = rtok ? strtod(rtok, NULL) : 0;
}

int trainer_load(Trainer *t, const char *path, Diag *d) {
  char dir[4096], err[512];
  int64_t step;
  if (!open_ckpt(path, dir, sizeof dir, &step, d)) return 0;
  if (t->dev && !tdev_pull(t, d)) return 0; /* train.device: cuda: what the checkpoint does not replace, */
  if (t->dev) tdev_host_changed(t);          /* and the loaded state goes up before the next run */
  char *anchored = calloc((size_t)t->params.n + 1, 1);
  if (!anchored) return diag_plain(d, "out of memory"), 0;
  for (int m = 0; m < t->train->modules.n; m++) {
    const IrModule *mod = &t->train->modules.v[m];
    if (!t->held[m]) continue;
    char mpath[4300];
    snprintf(mpath, sizeof mpath, "%s/%s.rank-%d.safetensors", dir, mod->name, t->rank); /* this holder's own */
    if (t->emulate || access(mpath, R_OK) != 0) snprintf(mpath, sizeof mpath, "%s/%s.safetensors", dir, mod->name);
    StFile sf;
    if (!st_read(mpath, &sf, err, sizeof err)) {
      diag_plain(d, "checkpoint: %s", err);
      free(anchored);
      return 0;
    }
    int first = t->params.first[m];
    for (int q = 0; q < mod->params.n; q++) {
      const char *pn = mod->params.v[q].name;
      char key[512];
      snprintf(key, sizeof key, "%s.adam_m", pn);
      if (!copy_from(&sf, pn, &t->params.t[first + q])) {
        diag_plain(d, "checkpoint %s: no tensor '%s' of module %s with shape as the model's", mpath, pn, mod->name);
        st_free(&sf);
        free(anchored);
        return 0;
      }
      copy_from(&sf, key, &t->m.t[first + q]); /* moments: when present */
      snprintf(key, sizeof key, "%s.adam_v", pn);
      copy_from(&sf, key, &t->v.t[first + q]);
    }
    const char *ms = st_meta(&sf, "optimizer_steps");
    t->module_steps[m] = ms ? strtoll(ms, NULL, 10) : 0;
    load_outer(t, m, &sf, anchored);
    st_free(&sf);
  }
  /* outer rounds continue from the saved anchor, else (an older checkpoint) from the parameters */
  tdept_reset_anchor(t, anchored);
  free(anchored);
  if (!restore_positions(t, dir, d)) return 0;
  if (step >= 0) t->step = step;
  return 1;
}

int trainer_init_from(Trainer *t, const char *path, int *copied, int *total, Diag *d) {
  char dir[4096], err[512];
  int64_t step;
  *copied = *total = 0;
  if (!open_ckpt(path, dir, sizeof dir, &step, d)) return 0;
  if (t->dev && !tdev_pull(t, d)) return 0; /* train.device: cuda: the copied parameters go up before */
  if (t->dev) tdev_host_changed(t);          /* the next run */
  for (int m = 0; m < t->train->modules.n; m++) {
    const IrModule *mod = &t->train->modules.v[m];
    if (!t->held[m]) continue;
    *total += mod->params.n;
    char mpath[4300];
    snprintf(mpath, sizeof mpath, "%s/%s.safetensors", dir, mod->name);
    StFile sf;
    if (access(mpath, R_OK) != 0) continue; /* a module the old model did not have */
    if (!st_read(mpath, &sf, err, sizeof err)) {
      diag_plain(d, "checkpoint: %s", err);
      return 0;
    }
    for (int q = 0; q < mod->params.n; q++)
      *copied += copy_from(&sf, mod->params.v[q].name, &t->params.t[t->params.first[m] + q]);
    st_free(&sf);
  }
  tdept_reset_anchor(t, NULL); /* outer rounds start from the copied parameters */
  return 1;
}
