"""gen.py OUT.yaml VARIANT [key=value ...] — a run configuration for tiny_lm.mam on the shipped
sample, for the DEPT tests: VARIANT glob | trim | spec | std (every module all-reduced every
step); keys: ranks (one rank per source, default "0,1"), sources (default "en,de"), every
(the round length, default 4), lr, momentum (outer), opt (inner optimizer), steps, clip,
moments (keep | reset), spr (dept.sources_per_round), seed (sampling.seed), ckpt (checkpoint
folder), freeze ("*": nothing trains)."""
import sys

out, variant = sys.argv[1], sys.argv[2]
kv = dict(a.split("=", 1) for a in sys.argv[3:])
sources = kv.get("sources", "en,de").split(",")
ranks = [int(r) for r in kv.get("ranks", "0,1").split(",")]
data = __file__.rsplit("/", 1)[0] + "/../../data/sample"
text = {"en": ("en-de", 0), "de": ("de-fr", 0), "fr": ("en-fr", 1), "es": ("en-es", 1), "en2": ("en-de", 0)}
every = kv.get("every", "4")
lines = ["index:", f"  source: [{', '.join(sources)}]"]
if variant == "spec":
    lines += ["  table: {" + ", ".join(f"{s}: {s}" for s in sources) + "}",
              "vocab: {" + ", ".join(f"{s}: byte" for s in sources) + "}"]
else:
    lines += ["  table: {all: [" + ", ".join(sources) + "]}", "vocab: {all: byte}"]
lines.append("tasks:")
for s, r in zip(sources, ranks):
    d, col = text[s]
    voc = "" if variant == "spec" else ", vocabs: [all]"
    lines.append(f"  - {{name: lm-{s}, task: lm({s}), path: {data}/{d}/train.tsv, valid: {data}/{d}/valid.tsv, "
                 f"columns: [{col}]{voc}, ranks: [{r}]}}")
lines.append(f"processes: {max(ranks) + 1}")
if kv.get("seed"):
    lines.append(f"sampling: {{seed: {kv['seed']}}}")
outer = f"{{outer: {{every: {every}, lr: {kv.get('lr', '1')}, momentum: {kv.get('momentum', '0')}" + \
        (", nesterov: true" if float(kv.get("momentum", "0")) > 0 else "") + "}}"
lines.append("sync:")
if variant == "spec":
    lines += ['  "embed[*]": local', f"  body: {outer}"]
elif variant == "std":
    lines.append('  "*": {every: 1}')
else:
    lines.append(f'  "*": {outer}')
if variant in ("glob", "trim", "spec"):
    spr = f", sources_per_round: {kv['spr']}" if kv.get("spr") else ""
    lines.append(f"dept: {{variant: {variant}, moments: {kv.get('moments', 'keep')}{spr}}}")
elif variant == "std" and kv.get("dept"):
    lines.append(f"dept: {kv['dept']}")
lines += [f"train: {{steps: {kv.get('steps', '8')}, batch_tokens: 256, max_len: 32, lr: {kv.get('inner_lr', '0.01')}, "
          f"clip: {kv.get('clip', '1')}, valid_every: 0, log_every: 1, dropout: 0,",
          f"        schedule: {{kind: {kv.get('schedule', 'constant')}, warmup: {kv.get('warmup', '1')}}}, "
          f"optimizer: {{kind: {kv.get('opt', 'adamw')}}}}}",
          f"checkpoint: {{dir: {kv.get('ckpt', 'ckpt')}, every: 0, keep: 1}}"]
if kv.get("freeze"):
    lines.append('freeze: ["*"]')
open(out, "w").write("\n".join(lines) + "\n")
