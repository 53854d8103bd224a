"""gen_config.py OUT.yaml SEED NPROC [OPTIMIZER] — a run configuration for tiny.mam on the
shipped sample with eight directions placed on random ranks (every rank gets at least one
task) and a random sampling seed: the multi-process tests' inputs."""
import random, sys
out, seed, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
opt = sys.argv[4] if len(sys.argv) > 4 else "adamw"
rnd = random.Random(seed)
dirs = [("en", "de", "en-de", 0), ("de", "en", "en-de", 1), ("en", "fr", "en-fr", 0), ("fr", "en", "en-fr", 1),
        ("en", "es", "en-es", 0), ("es", "en", "en-es", 1), ("de", "fr", "de-fr", 0), ("fr", "de", "de-fr", 1)]
ranks = list(range(nproc)) + [rnd.randrange(nproc) for _ in range(len(dirs) - nproc)]
rnd.shuffle(ranks)
data = __file__.rsplit("/", 1)[0] + "/../../data/sample"
lines = ["index:", "  lang: [en, de, fr, es]", "  family: {germanic: [en, de], romance: [fr, es]}",
         "vocab: {en: byte, de: byte, fr: byte, es: byte}", "tasks:"]
for (s, t, d, rev), r in zip(dirs, ranks):
    lines += [f"  - task: translate({s}, {t})", f"    path: {data}/{d}/train.tsv", f"    ranks: [{r}]",
              f"    weight: {rnd.choice([0.5, 1.0, 2.0])}"]
    if rev:
        lines.append("    columns: [1, 0]")
lines += [f"processes: {nproc}", f"sampling: {{temperature: 1.0, seed: {rnd.randrange(1000)}}}",
          "train: {steps: 50, batch_tokens: 256, max_len: 24, lr: 0.01, valid_every: 0, log_every: 0,",
          f"        schedule: {{kind: constant, warmup: 1}}, optimizer: {{kind: {opt}}}}}",
          "checkpoint: {dir: ckpt, every: 0, keep: 1}"]
open(out, "w").write("\n".join(lines) + "\n")
