/* test_ckpt_faults.c — checkpoints under I/O faults (issue #9): writing a checkpoint into a
 * read-only folder, onto a "full disk", or when `latest` cannot be written must fail with a
 * clear message naming the file, leave no partial checkpoint behind, and keep the previous
 * checkpoint listed in DIR/latest, byte for byte unchanged and loadable; a later save in good
 * conditions works again.
 *
 * Each faulty save runs in a forked child so its conditions stay there:
 *   read-only   the folder is chmod 0555; as root (which ignores modes) the child also drops
 *               to uid/gid 65534 (skipped, with a note, where it cannot)
 *   disk full   setrlimit(RLIMIT_FSIZE) with SIGXFSZ ignored: every write past the limit fails
 *               (EFBIG), as on a full filesystem (ENOSPC); limits 0, 1 KiB and 20 KiB
 *   /dev/full   DIR/latest.tmp is a symlink to /dev/full: the checkpoint folder is written,
 *               then writing `latest` fails with ENOSPC
 * and a checkpoint of the same step saved again (a resumed run) replaces the old one whole.
 *
 *   test_ckpt_faults MODEL.mam RUN.yaml
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mamc/mamc.h"
#include "support.h"
#include "test.h"

static char dir[] = "/tmp/mamc-ckptfault-XXXXXX";

/* ---- files --------------------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, got;
  char *b = malloc(cap + 1);
  while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *nb = realloc(b, 2 * cap + 1);
      if (!nb) { free(b); b = NULL; break; }
      b = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (b) b[n] = 0;
  if (len) *len = n;
  return b;
}

/* The entries of a folder, sorted, joined by spaces; each file's bytes hashed (FNV-1a). */
static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void snapshot(const char *path, StrBuf *out) {
  DIR *d = opendir(path);
  if (!d) {
    sb_puts(out, "(missing)");
    return;
  }
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, name_cmp);
  for (int i = 0; i < n; i++) {
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
    struct stat st;
    if (lstat(sub, &st) != 0 || S_ISLNK(st.st_mode)) {
      sb_printf(out, "%s:link ", names[i]);
    } else if (S_ISDIR(st.st_mode)) {
      sb_printf(out, "%s/{", names[i]);
      snapshot(sub, out);
      sb_puts(out, "} ");
    } else {
      size_t len = 0;
      char *b = slurp(sub, &len);
      uint64_t h = 1469598103934665603ull;
      for (size_t k = 0; b && k < len; k++) h = (h ^ (unsigned char)b[k]) * 1099511628211ull;
      sb_printf(out, "%s:%zu:%016llx ", names[i], len, (unsigned long long)h);
      free(b);
    }
    free(names[i]);
  }
}

static char *latest(void) {
  char p[4200];
  snprintf(p, sizeof p, "%s/latest", dir);
  char *s = slurp(p, NULL);
  if (s) s[strcspn(s, "\n")] = 0;
  return s;
}

/* ---- a save in a child, under a fault ------------------------------------------------------ */

typedef enum { F_READONLY, F_FSIZE, F_NONE } Fault;

/* Runs mamc_trainer_save(dir) in a child under the fault; returns its result (1 saved,
 * 0 failed, -1 skipped) and the message in msg. The child sends the result as the first
 * byte on a pipe, then the message: its exit status is not ours under valgrind, which
 * reports the trainer the child exits without freeing. */
static int save_in_child(mamc_trainer *t, Fault fault, long limit, char *msg, size_t msglen) {
  int fd[2];
  msg[0] = 0;
  if (pipe(fd) != 0) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    char code = 0;
    if (fault == F_READONLY && geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
      code = 's'; /* cannot drop root: a read-only mode means nothing to root */
    } else {
      if (fault == F_FSIZE) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit r = {(rlim_t)limit, (rlim_t)limit};
        if (setrlimit(RLIMIT_FSIZE, &r) != 0) code = 's';
      }
      char *err = NULL;
      if (!code) code = mamc_trainer_save(t, dir, 2, &err) == MAMC_OK ? 'y' : 'n';
      ssize_t w = write(fd[1], &code, 1);
      if (err) w = write(fd[1], err, strlen(err));
      (void)w;
    }
    close(fd[1]);
    _exit(0);
  }
  close(fd[1]);
  char code = 0;
  if (read(fd[0], &code, 1) != 1) code = 0;
  size_t n = 0;
  ssize_t r;
  while (n + 1 < msglen && (r = read(fd[0], msg + n, msglen - 1 - n)) > 0) n += (size_t)r;
  msg[n] = 0;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!code) {
    fprintf(stderr, "the saving child died (status %d)\n", status);
    return 0;
  }
  return code == 'y' ? 1 : code == 'n' ? 0 : -1;
}

/* The previous checkpoint is still listed, unchanged, and nothing else was left behind. */
static void check_intact(const char *what, const char *want_latest, const char *before) {
  char *l = latest();
  CHECK_MSG(l && strcmp(l, want_latest) == 0, "%s: latest is '%s', want '%s'", what, l ? l : "(none)", want_latest);
  free(l);
  StrBuf now;
  sb_init(&now);
  snapshot(dir, &now);
  CHECK_MSG(strcmp(now.s ? now.s : "", before) == 0, "%s: the checkpoint folder changed:\n  before: %s\n  after:  %s", what,
            before, now.s ? now.s : "");
  sb_free(&now);
}

int main(int argc, char **argv) {
  const char *mam = argc > 1 ? argv[1] : "tests/faults/tiny.mam";
  const char *yaml = argc > 2 ? argv[2] : "tests/faults/tiny.yaml";
  mamc_set_blas_threads(1);     /* no worker threads across fork() */
  setenv("MAMC_NO_JIT", "1", 0); /* the interpreter is enough here, and fast under valgrind */
  CHECK(mkdtemp(dir) != NULL);
  chmod(dir, 0755); /* so a child that dropped root can still reach it */
  char *err = NULL;
  mamc_model *m = mamc_model_compile(mam, yaml, &err);
  CHECK_MSG(m, "compile: %s", err ? err : "");
  if (!m) return test_done();
  mamc_trainer *t = mamc_trainer_new(m, &(mamc_train_options){0}, &err);
  CHECK_MSG(t, "trainer: %s", err ? err : "");
  if (!t) return test_done();
  mamc_step st;
  for (int i = 0; i < 2; i++) CHECK(mamc_trainer_step(t, &st, &err) == MAMC_OK);
  CHECK_MSG(mamc_trainer_save(t, dir, 2, &err) == MAMC_OK, "first save: %s", err ? err : "");
  char *first = latest();
  CHECK(first && strcmp(first, "step-00000002") == 0);
  StrBuf b;
  sb_init(&b);
  snapshot(dir, &b);
  char *before = strdup(b.s ? b.s : "");
  sb_free(&b);
  CHECK(mamc_trainer_step(t, &st, &err) == MAMC_OK); /* step 3: the faulty saves would write step-00000003 */

  char msg[2048];
  /* read-only folder */
  CHECK(chmod(dir, 0555) == 0);
  int r = save_in_child(t, F_READONLY, 0, msg, sizeof msg);
  CHECK(chmod(dir, 0755) == 0);
  if (r < 0) {
    printf("read-only folder: skipped (running as root and cannot drop to uid 65534)\n");
  } else {
    CHECK_MSG(r == 0, "a save into a read-only folder succeeded");
    CHECK_MSG(strstr(msg, "cannot create the checkpoint folder") && strstr(msg, "Permission denied"),
              "read-only folder: unclear message: %s", msg);
    printf("read-only folder: %s", msg);
    check_intact("read-only folder", first, before);
  }
  /* full disk: no byte, some bytes, most of a module file */
  long limits[] = {0, 1024, 20 * 1024};
  for (int i = 0; i < COUNT_OF(limits); i++) {
    r = save_in_child(t, F_FSIZE, limits[i], msg, sizeof msg);
    CHECK_MSG(r == 0, "a save with files limited to %ld bytes did not fail (%d)", limits[i], r);
    CHECK_MSG(strstr(msg, "cannot write") && strstr(msg, "File too large"), "file size limit %ld: unclear message: %s",
              limits[i], msg);
    printf("files limited to %ld bytes: %s", limits[i], msg);
    check_intact("full disk", first, before);
  }
  /* `latest` cannot be written: the new folder may stay (complete, unlisted), latest may not move */
  char lt[4200];
  snprintf(lt, sizeof lt, "%s/latest.tmp", dir);
  if (symlink("/dev/full", lt) == 0) {
    r = save_in_child(t, F_NONE, 0, msg, sizeof msg);
    CHECK_MSG(r == 0, "a save whose 'latest' cannot be written succeeded");
    CHECK_MSG(strstr(msg, "latest") && strstr(msg, "No space left"), "/dev/full: unclear message: %s", msg);
    printf("latest on /dev/full: %s", msg);
    char *l = latest();
    CHECK_MSG(l && strcmp(l, first) == 0, "/dev/full: latest moved to %s", l ? l : "(none)");
    free(l);
    struct stat sst;
    CHECK_MSG(lstat(lt, &sst) != 0, "/dev/full: latest.tmp was left behind");
    unlink(lt);
    char p[4200];
    snprintf(p, sizeof p, "%s/step-00000003", dir); /* written, never listed: not ours to keep */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    CHECK(system(cmd) == 0);
    check_intact("latest on /dev/full", first, before);
  }

  /* the previous checkpoint loads into a fresh trainer */
  mamc_trainer *t2 = mamc_trainer_new(m, &(mamc_train_options){0}, &err);
  CHECK(t2 && mamc_trainer_load(t2, dir, &err) == MAMC_OK);
  CHECK_MSG(t2 && mamc_trainer_step_count(t2) == 2, "the reloaded checkpoint is at step %lld",
            t2 ? (long long)mamc_trainer_step_count(t2) : -1LL);
  /* and saving it again gives the same files */
  char dir2[4200];
  snprintf(dir2, sizeof dir2, "%s/again", dir);
  CHECK(t2 && mamc_trainer_save(t2, dir2, 0, &err) == MAMC_OK);
  char p1[4300], p2[4300];
  snprintf(p1, sizeof p1, "%s/%s", dir, first);
  snprintf(p2, sizeof p2, "%s/%s", dir2, first);
  StrBuf s1, s2;
  sb_init(&s1);
  sb_init(&s2);
  snapshot(p1, &s1);
  snapshot(p2, &s2);
  CHECK_MSG(s1.s && s2.s && strcmp(s1.s, s2.s) == 0, "reloaded and saved again, the checkpoint differs:\n%s\n%s",
            s1.s ? s1.s : "", s2.s ? s2.s : "");
  sb_free(&s1);
  sb_free(&s2);
  mamc_trainer_free(t2);

  /* in good conditions the next save works and becomes the latest */
  CHECK_MSG(mamc_trainer_save(t, dir, 2, &err) == MAMC_OK, "save after the faults: %s", err ? err : "");
  char *l = latest();
  CHECK(l && strcmp(l, "step-00000003") == 0);
  free(l);
  /* saving the same step again (a resumed run) replaces the folder whole, under a full disk
   * not at all */
  sb_init(&b);
  snapshot(dir, &b);
  r = save_in_child(t, F_FSIZE, 1024, msg, sizeof msg);
  CHECK_MSG(r == 0, "the same step, files limited to 1 KiB: saved (%d)", r);
  check_intact("the same step on a full disk", "step-00000003", b.s ? b.s : "");
  CHECK_MSG(mamc_trainer_save(t, dir, 2, &err) == MAMC_OK, "the same step again: %s", err ? err : "");
  check_intact("the same step again", "step-00000003", b.s ? b.s : "");
  sb_free(&b);

  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  free(first);
  free(before);
  mamc_trainer_free(t);
  mamc_model_free(m);
  if (err) mamc_free_text(err);
  return test_done();
}
