/* cmd_train.c — `mamc train`: a thin client of the public API (include/mamc/mamc.h). It
 * draws the live progress line (or plain lines when not on a terminal), validates every
 * valid_every steps, appends JSONL metrics, writes checkpoints, and on Ctrl-C, SIGTERM or SIGUSR1
 * stops after the step in progress with a checkpoint. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mamc/mamc.h"
#include "train_valid.h"

typedef struct TrainArgs {
  const char *model, *config, *metrics, *resume, *init_from, *extend, *progress, *replicas, *device;
  int64_t steps;
  uint64_t seed;
  int emulate;
} TrainArgs;

/* A number for a JSON line: fmt, or null when it is NaN or infinite. */
static void json_num(char *buf, size_t n, const char *fmt, double v) {
  if (isfinite(v))
    snprintf(buf, n, fmt, v);
  else
    snprintf(buf, n, "null");
}

static void fmt_time(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0) s = 0;
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static int parse_args(int argc, char **argv, TrainArgs *a) {
  memset(a, 0, sizeof *a);
  a->progress = "auto";
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(cmd_train.usage, stdout);
      return 1;
    } else if ((!strcmp(s, "--config") || !strcmp(s, "-c")) && has) {
      a->config = argv[++i];
    } else if (!strcmp(s, "--metrics") && has) {
      a->metrics = argv[++i];
    } else if (!strcmp(s, "--resume") && has) {
      a->resume = argv[++i];
    } else if (!strcmp(s, "--init-from") && has) {
      a->init_from = argv[++i];
    } else if (!strcmp(s, "--extend") && has) {
      a->extend = a->init_from = argv[++i];
    } else if (!strcmp(s, "--device") && has) {
      a->device = argv[++i];
      if (strcmp(a->device, "cpu") && strncmp(a->device, "cuda", 4)) {
        fprintf(stderr, "mamc train: --device takes cpu, cuda or cuda:N, got '%s'\n", a->device);
        return -1;
      }
    } else if (!strcmp(s, "--dump-replicas") && has) {
      a->replicas = argv[++i];
    } else if (!strcmp(s, "--progress") && has) {
      a->progress = argv[++i];
      if (strcmp(a->progress, "auto") && strcmp(a->progress, "line") && strcmp(a->progress, "lines") &&
          strcmp(a->progress, "none")) {
        fprintf(stderr, "mamc train: --progress takes auto, line, lines or none\n");
        return -1;
      }
    } else if ((!strcmp(s, "--steps") || !strcmp(s, "--seed") || !strcmp(s, "--emulate-ranks")) && has) {
      char *end;
      long long v = strtoll(argv[++i], &end, 10);
      if (*end || v <= 0) {
        fprintf(stderr, "mamc train: %s needs a positive integer, got '%s'\n", s, argv[i]);
        return -1;
      }
      if (!strcmp(s, "--steps")) a->steps = v;
      else if (!strcmp(s, "--seed")) a->seed = (uint64_t)v;
      else a->emulate = (int)v;
    } else if (s[0] == '-' && s[1]) {
      fprintf(stderr, "mamc train: unknown option '%s' (or it needs a value; see mamc train --help)\n", s);
      return -1;
    } else if (!a->model) {
      a->model = s;
    } else {
      fprintf(stderr, "mamc train: unexpected argument '%s'\n", s);
      return -1;
    }
  }
  if (!a->model || !a->config) {
    fprintf(stderr, "mamc train: needs MODEL.mam and --config RUN.yaml\n%s", cmd_train.usage);
    return -1;
  }
  return 0;
}

static int save(mamc_trainer *t, const mamc_settings *st, FILE *out, int tty) {
  char *err = NULL;
  if (mamc_trainer_save(t, st->checkpoint_dir, st->checkpoint_keep, &err) != MAMC_OK) {
    fprintf(stderr, "%s", err ? err : "error: checkpoint failed\n");
    mamc_free_text(err);
    return 0;
  }
  if (mamc_trainer_rank(t) == 0)
    fprintf(out, "%scheckpoint: %s/step-%08lld\n", tty ? "\r\033[K" : "", st->checkpoint_dir,
            (long long)mamc_trainer_step_count(t));
  return 1;
}

/* SIGINT / SIGTERM / SIGUSR1: the first sets the flag the trainer sums over every process with
 * each step (mamc_trainer_watch_stop), so all processes stop after the same step and save it; a
 * second SIGINT ends the process at once (the signal's default action). SIGUSR1 is there for
 * mpirun: Open MPI's mpirun forwards it to every rank, while SIGINT or SIGTERM sent to mpirun
 * (a Ctrl-C at its terminal) makes it kill the ranks about a second later. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) {
  static const char msg[] = "\nmamc train: interrupted: stopping after this step, with a checkpoint (Ctrl-C again quits "
                            "at once)\n";
  if (stop_signal && sig == SIGINT) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  stop_signal = sig;
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
}

static void watch_signals(mamc_trainer *t) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sa.sa_flags = SA_RESTART; /* reads, writes and MPI calls go on: the loop checks between steps */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  mamc_trainer_watch_stop(t, &stop_signal);
}

/* A fresh run (no --resume) whose checkpoint folder holds an earlier run — checkpoints, a
 * best checkpoint or metrics — moves that folder to DIR.N (the first free N) instead of
 * overwriting, pruning or appending to it; --init-from / --extend paths inside it follow it
 * (*from, each a buffer of n bytes). Rank 0 alone, before any process writes there (the others
 * write only after the trainer's first collective). 0: it could not be moved (said why). */
static int set_aside(const char *checkpoint_dir, char *from[2], size_t n) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", checkpoint_dir);
  for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--) dir[l - 1] = 0;
  DIR *d = opendir(dir);
  if (!d) return 1; /* no folder yet */
  int held = 0;
  for (struct dirent *e; !held && (e = readdir(d));)
    held = !strcmp(e->d_name, "latest") || !strcmp(e->d_name, "best") || !strcmp(e->d_name, "metrics.jsonl") ||
           !strncmp(e->d_name, "step-", 5);
  closedir(d);
  if (!held) return 1;
  char to[4200], latest[80] = "", path[4200];
  int k = 1;
  do
    snprintf(to, sizeof to, "%s.%d", dir, k++);
  while (access(to, F_OK) == 0 && k < 100000);
  snprintf(path, sizeof path, "%s/latest", dir);
  FILE *f = fopen(path, "r");
  if (f) {
    char step[48] = "";
    if (fscanf(f, "%47s", step) == 1) snprintf(latest, sizeof latest, " (latest: %s)", step);
    fclose(f);
  }
  if (rename(dir, to) != 0) {
    fprintf(stderr, "mamc train: %s holds an earlier run%s, which could not be moved aside to %s: %s (continue it with "
            "--resume %s, or move it yourself)\n", dir, latest, to, strerror(errno), dir);
    return 0;
  }
  fprintf(stderr, "mamc train: %s held an earlier run%s: moved to %s (to continue that run instead: --resume %s)\n", dir,
          latest, to, to);
  size_t dl = strlen(dir);
  for (int i = 0; i < 2; i++) /* --init-from / --extend inside the folder: where it went */
    if (from[i] && !strncmp(from[i], dir, dl) && (from[i][dl] == 0 || from[i][dl] == '/')) {
      snprintf(path, sizeof path, "%s%s", to, from[i] + dl);
      snprintf(from[i], n, "%s", path);
    }
  return 1;
}

static int run_train(int argc, char **argv) {
  TrainArgs a;
  int r = parse_args(argc, argv, &a);
  if (r) return r > 0 ? EXIT_OK : EXIT_INPUT;
  char *err = NULL;
  double t_start = mono_seconds();
  int nprocs = mamc_mpi_init(NULL, NULL);
  /* BLAS threads: one per process under mpirun (the processes share the cores) and with
   * --emulate-ranks (OpenBLAS's results depend on its thread count, and an emulated run must
   * reproduce the processes' bit for bit), else up to four (the executor itself runs one
   * thread: MAMC_THREADS). On 2 cores, 2 BLAS threads took translate.yaml's 60 steps from
   * 24.5 s to 20.0 s. OPENBLAS_NUM_THREADS overrides. */
  if (!getenv("OPENBLAS_NUM_THREADS")) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    mamc_set_blas_threads(nprocs > 1 || a.emulate || ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu);
  }
  if (nprocs > 1 && a.emulate) {
    fprintf(stderr, "mamc train: --emulate-ranks is for single-process runs, not under mpirun\n");
    return EXIT_INPUT;
  }
  /* --extend: every module the checkpoint holds stays as it is; only new modules train */
  char **frozen = NULL;
  int nfrozen = 0;
  if (a.extend) {
    frozen = mamc_checkpoint_modules(a.extend, &err);
    if (!frozen) {
      fprintf(stderr, "mamc train: --extend %s: %s", a.extend, err ? err : "cannot read it\n");
      mamc_free_text(err);
      return EXIT_INPUT;
    }
    while (frozen[nfrozen]) nfrozen++;
  }
  mamc_compile_options co = {nfrozen, (const char *const *)frozen};
  mamc_model *m = mamc_model_compile_with(a.model, a.config, &co, &err);
  if (a.extend) fprintf(stderr, "mamc train: --extend: %d module instance%s of %s kept frozen\n", nfrozen,
                        nfrozen == 1 ? "" : "s", a.extend);
  mamc_free_names(frozen);
  if (!m) {
    fputs(err ? err : "error: compilation failed\n", stderr);
    mamc_free_text(err);
    return EXIT_INPUT;
  }
  mamc_settings st;
  mamc_model_settings(m, &st);
  char init_buf[4300], extend_buf[4300], *from[2] = {NULL, NULL};
  if (a.init_from) snprintf(init_buf, sizeof init_buf, "%s", a.init_from), from[0] = init_buf, a.init_from = init_buf;
  if (a.extend) snprintf(extend_buf, sizeof extend_buf, "%s", a.extend), from[1] = extend_buf, a.extend = extend_buf;
  if (!a.resume && mamc_mpi_rank() == 0 && !set_aside(st.checkpoint_dir, from, sizeof init_buf)) {
    mamc_model_free(m);
    return EXIT_INPUT;
  }
  char metrics_default[4096];
  if (!a.metrics) {
    snprintf(metrics_default, sizeof metrics_default, "%s/metrics.jsonl", st.checkpoint_dir);
    a.metrics = metrics_default;
    cli_mkdirs(st.checkpoint_dir);
  }
  mamc_train_options o = {a.metrics, a.steps, a.seed, a.emulate, a.device};
  mamc_trainer *t = mamc_trainer_new(m, &o, &err);
  if (!t) {
    fputs(err ? err : "error: cannot start training\n", stderr);
    mamc_free_text(err);
    mamc_model_free(m);
    return EXIT_INPUT;
  }
  int rc = EXIT_OK;
  if (a.resume && a.init_from) {
    fprintf(stderr, "mamc train: give --resume or --init-from, not both\n");
    rc = EXIT_INPUT;
    goto done;
  }
  if (a.resume && mamc_trainer_load(t, a.resume, &err) != MAMC_OK) {
    fputs(err ? err : "error: cannot resume\n", stderr);
    mamc_free_text(err);
    rc = EXIT_INPUT;
    goto done;
  }
  if (a.init_from) {
    int copied, total;
    if (mamc_trainer_init_from(t, a.init_from, &copied, &total, &err) != MAMC_OK) {
      fputs(err ? err : "error: cannot initialise\n", stderr);
      mamc_free_text(err);
      rc = EXIT_INPUT;
      goto done;
    }
    fprintf(stderr, "mamc train: initialised %d of %d parameters from %s\n", copied, total, a.init_from);
  }
  int lead = mamc_trainer_rank(t) == 0; /* rank 0 reports; every rank reports its errors */
  int tty = lead && (!strcmp(a.progress, "line") || (!strcmp(a.progress, "auto") && isatty(2)));
  int quiet = !lead || !strcmp(a.progress, "none");
  FILE *out = stderr;
  int64_t total = mamc_trainer_total_steps(t), start = mamc_trainer_step_count(t);
  if (lead) {
    int generated, cached;
    char kernels[64] = "";
    mamc_trainer_kernels(t, &generated, &cached);
    if (generated + cached > 0)
      snprintf(kernels, sizeof kernels, " (%d CPU kernels, %d from the kernel cache)", generated + cached, cached);
    fprintf(out, "mamc train: %s, %d task%s, %lld parameters, %lld steps, %d process%s; compiled in %.1f s%s; metrics: %s\n",
            a.model, mamc_model_ntasks(m), mamc_model_ntasks(m) == 1 ? "" : "s", (long long)mamc_model_parameter_count(m),
            (long long)(total - start), nprocs > 1 ? nprocs : (a.emulate ? a.emulate : 1),
            nprocs > 1 || a.emulate > 1 ? "es" : "", mono_seconds() - t_start, kernels, a.metrics);
  }
  double ema = NAN, t0 = mono_seconds(), last_print = 0;
  int interrupted = 0;
  watch_signals(t);
  TrainValid tv; /* validation loss, BLEU/chrF, the best checkpoint, early stopping (train_valid.c) */
  train_valid_init(&tv, &st, a.resume);
  int64_t tokens = 0, window_tokens = 0, comm = 0;
  double window_t = t0;
  if (st.valid_every > 0) train_valid_run(&tv, m, t, start, 1, tty, lead, out);
  for (int64_t s = start; s < total; s++) {
    mamc_step info;
    if (mamc_trainer_step(t, &info, &err) != MAMC_OK) {
      fprintf(stderr, "%s%s", tty ? "\n" : "", err ? err : "error: step failed\n");
      mamc_free_text(err);
      rc = EXIT_INPUT;
      break;
    }
    tokens += info.tokens;
    window_tokens += info.tokens;
    comm += info.comm_bytes;
    if (info.skipped) { /* train.nonfinite: skip — the step changed nothing */
      if (lead) fprintf(out, "%swarning: skipped %s\n", tty ? "\r\033[K" : "", mamc_trainer_nonfinite_report(t));
    } else if (info.task >= 0) { /* -1: this rank's source sat the round out (dept.sources_per_round) */
      ema = isnan(ema) ? info.loss : 0.95 * ema + 0.05 * info.loss;
    }
    double tnow = mono_seconds(), elapsed = tnow - t0;
    double tps = window_tokens / fmax(1e-9, tnow - window_t);
    int log_now = st.log_every > 0 && (info.step % st.log_every == 0 || info.step == total);
    if (log_now) {
      char line[512], ls[32], es[32], gs[32]; /* NaN/Inf (a skipped step) as null: the lines stay JSON */
      json_num(ls, sizeof ls, "%.6f", info.loss);
      json_num(es, sizeof es, "%.6f", ema);
      json_num(gs, sizeof gs, "%.4f", info.grad_norm);
      snprintf(line, sizeof line,
               "{\"type\": \"train\", \"step\": %lld, \"task\": \"%s\", \"loss\": %s, \"loss_avg\": %s, "
               "\"lr\": %.6g, \"grad_norm\": %s, \"tokens\": %lld, \"tok_per_s\": %.1f, \"elapsed\": %.2f, "
               "\"comm_bytes\": %lld, \"skipped\": %lld}",
               (long long)info.step, mamc_model_task_name(m, info.task), ls, es, info.lr, gs,
               (long long)tokens, tps, elapsed, (long long)comm, (long long)mamc_trainer_skipped_steps(t));
      mamc_trainer_log(t, line);
    }
    if (!quiet && (tty ? tnow - last_print > 0.2 || info.step == total : log_now)) {
      char el[32], eta[32];
      fmt_time(el, sizeof el, elapsed);
      fmt_time(eta, sizeof eta, elapsed / (double)(info.step - start) * (double)(total - info.step));
      fprintf(out, "%sstep %lld/%lld  %-10s loss %.3f (avg %.3f)  lr %.2e  %.0f tok/s  %s  ETA %s%s",
              tty ? "\r\033[K" : "", (long long)info.step, (long long)total, mamc_model_task_name(m, info.task),
              info.loss, ema, info.lr, tps, el, eta, tty ? "" : "\n");
      fflush(out);
      last_print = tnow;
      window_tokens = 0;
      window_t = tnow;
    }
    if (info.stop) { /* SIGINT, SIGTERM or SIGUSR1 on some process: every process stops after this step */
      interrupted = 1;
      break;
    }
    if (st.valid_every > 0 && info.step % st.valid_every == 0) {
      if (!train_valid_run(&tv, m, t, info.step, 0, tty, lead, out)) {
        rc = EXIT_INPUT;
        break;
      }
      if (tv.stopped) break; /* early stopping: the final checkpoint below, the best in DIR/best */
    }
    if (st.checkpoint_every > 0 && info.step % st.checkpoint_every == 0 && info.step < total && !save(t, &st, out, tty)) {
      rc = EXIT_INPUT;
      break;
    }
  }
  if (rc == EXIT_OK && interrupted) { /* the step's checkpoint, no final validation */
    rc = save(t, &st, out, tty) ? EXIT_INTERRUPTED : EXIT_INPUT;
    if (lead && rc == EXIT_INTERRUPTED)
      fprintf(out, "%sinterrupted at step %lld of %lld; continue with the same command and --resume %s\n", tty ? "\r\033[K" : "",
              (long long)mamc_trainer_step_count(t), (long long)total, st.checkpoint_dir);
  } else if (rc == EXIT_OK) {
    if (st.valid_every > 0 && mamc_trainer_step_count(t) % st.valid_every != 0 &&
        !train_valid_run(&tv, m, t, mamc_trainer_step_count(t), 0, tty, lead, out))
      rc = EXIT_INPUT;
    if (rc == EXIT_OK && !save(t, &st, out, tty)) rc = EXIT_INPUT;
    if (a.replicas && mamc_trainer_dump_replicas(t, a.replicas, &err) != MAMC_OK) {
      fputs(err ? err : "error: cannot dump replicas\n", stderr);
      mamc_free_text(err);
      rc = EXIT_INPUT;
    }
    double fwd, bwd, opt, el = mono_seconds() - t0;
    mamc_trainer_times(t, &fwd, &bwd, &opt);
    if (lead && isnan(fwd)) /* on a GPU: device_stats in the metrics has the step times */
      fprintf(out, "%sdone: %lld steps in %.1f s (%.0f tok/s; steps on the GPU: device_stats in the metrics)",
              tty ? "\r\033[K" : "", (long long)(mamc_trainer_step_count(t) - start), el, tokens / fmax(el, 1e-9));
    else if (lead)
      fprintf(out, "%sdone: %lld steps in %.1f s (%.0f tok/s; forward %.1f s, backward %.1f s, optimizer %.1f s)",
              tty ? "\r\033[K" : "", (long long)(mamc_trainer_step_count(t) - start), el, tokens / fmax(el, 1e-9), fwd,
              bwd, opt);
    if (lead && !isnan(tv.first_loss) && !isnan(tv.last_loss))
      fprintf(out, "; validation loss %.3f -> %.3f (%.0f%%)", tv.first_loss, tv.last_loss,
              100 * tv.last_loss / tv.first_loss);
    if (lead && tv.stopped) fprintf(out, "; stopped early");
    if (lead && tv.best_step >= 0)
      fprintf(out, "; best %s %.3f at step %lld (%s/best)", st.early_stop, tv.best, (long long)tv.best_step,
              st.checkpoint_dir);
    if (lead) fputc('\n', out);
  }
done:
  mamc_trainer_free(t);
  mamc_model_free(m);
  mamc_mpi_finalize();
  return rc;
}

const Cmd cmd_train = {
    "train", run_train, "train a model on its run configuration's tasks and data (CPU)",
    "usage: mamc train MODEL.mam --config RUN.yaml [options]\n\n"
    "Compiles the model, then trains it: each step samples a task (by weight and temperature),\n"
    "takes a batch from its corpus, runs forward and backward, and updates the modules that\n"
    "task uses with AdamW. Validation loss per task every train.valid_every steps (and BLEU/chrF\n"
    "of greedy translations of train.valid_bleu sentences per task; the best checkpoint by\n"
    "train.early_stop.metric in checkpoint.dir/best, stopping after `patience` validations\n"
    "without improvement: docs/config.md); a checkpoint every checkpoint.every steps and at\n"
    "the end (checkpoint.dir, relative to the current folder; an earlier run there is moved\n"
    "to DIR.1, DIR.2, ... unless --resume continues it); JSONL metrics in\n"
    "checkpoint.dir/metrics.jsonl. Ctrl-C, SIGTERM or SIGUSR1: the step in progress finishes,\n"
    "every process stops after it, its checkpoint is written and the exit status is 130;\n"
    "continue with the same command and --resume DIR (a second Ctrl-C quits at once, losing\n"
    "the steps since the last checkpoint). Under mpirun send SIGUSR1 to mpirun (kill -USR1\n"
    "PID), which forwards it to every process: a Ctrl-C there ends the job at once.\n\n"
    "options:\n"
    "  --steps N          train N steps instead of train.steps\n"
    "  --seed N           override train.seed\n"
    "  --device D         cpu, cuda or cuda:N: override train.device (docs/gpu.md)\n"
    "  --metrics FILE     where to append JSONL metrics\n"
    "  --resume PATH      continue from a checkpoint (a step-N folder, or a checkpoint dir: its latest)\n"
    "  --init-from PATH   start from another model's checkpoint: matching parameters are copied,\n"
    "                     new ones initialised; fresh optimizer (fine-tuning a converted model)\n"
    "  --extend PATH      like --init-from, and every module instance PATH holds stays frozen: only\n"
    "                     the new ones train (adding a language to a trained model)\n"
    "  --progress MODE    auto (a live line on a terminal, else plain lines), line, lines, none\n"
    "  --emulate-ranks N  run the steps of N processes in this one (the reference of a distributed run)\n"
    "  --dump-replicas D  at the end, each process writes its copy of every module it holds to D/rank-R/\n\n"
    "Distributed: mpirun -np N mamc train ... (built with MPI): each rank trains the tasks placed on\n"
    "it (the tasks' ranks: in the configuration, else round-robin) and holds only their modules;\n"
    "gradients of modules held by several ranks are averaged by tokens among the ranks that\n"
    "trained them. Rank 0 prints and writes the metrics; each module is saved by its lowest holder.\n"};
