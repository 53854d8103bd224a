"""gpu_train.py — bench/gpu.sh's `train` part: reads the metrics JSONL of `mamc train` runs on
the CPU and with --device cuda (runtime/cuda/dtrain*.c) and checks, printing OK / NOT OK lines
and one summary line (prefixed "SUMMARY "):
  gpu_train.py CPU.jsonl NAME=GPU.jsonl[:PATH] ... [--k K] [--tol TOL] [--falls NAME ...]
               [--graphs NAME ...] [--ratio NAME1 NAME2]
  - each GPU run really ran on a GPU ("device" line: emulated 0) on the expected step path
    (PATH: device | staged; omitted: not checked);
  - its first K per-step losses (those the CPU run has) agree with the CPU's within TOL relative
    (f32 products on both sides; default 1e-3: after a few AdamW steps the two roundings drift);
    a run given as NAME=GPU.jsonl with CPU.jsonl "-" skips this (no CPU reference); the reference
    may be another GPU run's JSONL (graphs on against off, bf16 against f32);
  - for --falls runs: the mean loss of the last quarter of steps is below the first step's;
  - for --graphs runs: CUDA graphs were on, some task runs were replayed and none failed
    (device_stats: graph_replays, graph_captures, eager_runs, graph_failed);
  - the step times from the "device_stats" line: the first step and the median of the others
    (--ratio A B: A's median over B's, e.g. graphs on over off; a run not listed as NAME=GPU.jsonl
    can be named NAME=PATH there).
Exit 0 when everything holds, 1 otherwise."""
import json, sys


def read(path):
    out = {"train": [], "device": {}, "stats": {}}
    try:
        with open(path) as f:
            for l in f:
                if not l.strip():
                    continue
                x = json.loads(l)
                t = x.get("type")
                if t == "train":
                    out["train"].append(x)
                elif t == "device":
                    out["device"] = x
                elif t == "device_stats":
                    out["stats"] = x
    except OSError as e:
        print(f"NOT OK: {path}: {e}")
    return out


def main(argv):
    k, tol, falls, graphs, ratio, runs, cpu = 5, 1e-3, set(), set(), None, [], None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--k":
            k = int(argv[i + 1]); i += 2; continue
        if a == "--tol":
            tol = float(argv[i + 1]); i += 2; continue
        if a == "--falls":
            falls.add(argv[i + 1]); i += 2; continue
        if a == "--graphs":
            graphs.add(argv[i + 1]); i += 2; continue
        if a == "--ratio":
            ratio = (argv[i + 1], argv[i + 2]); i += 3; continue
        if cpu is None:
            cpu = a
        else:
            name, rest = a.split("=", 1)
            path, _, want = rest.partition(":")
            runs.append((name, path, want))
        i += 1
    ref = read(cpu)["train"] if cpu and cpu != "-" else []
    bad, summary, medians = 0, [], {}
    for name, path, want in runs:
        r = read(path)
        dev, st, tr = r["device"], r["stats"], r["train"]
        if not tr or not dev:
            print(f"NOT OK: {name}: no train or device lines in {path}")
            bad += 1
            continue
        if dev.get("emulated") != 0 or (want and dev.get("step") != want):
            print(f"NOT OK: {name}: ran on {dev.get('device')!r} (emulated {dev.get('emulated')}), step path "
                  f"{dev.get('step')!r}, expected a GPU and {want or 'any'}")
            bad += 1
        else:
            print(f"OK: {name}: {dev.get('device')}, step path {dev.get('step')} {dev.get('staged_because') or ''}")
        n = min(k, len(ref), len(tr))
        if ref:
            worst = 0.0
            for a, b in zip(ref[:n], tr[:n]):
                if a["loss"] is None or b["loss"] is None:
                    worst = float("inf")
                    continue
                worst = max(worst, abs(a["loss"] - b["loss"]) / max(abs(a["loss"]), 1e-12))
            ok = n > 0 and worst <= tol
            bad += not ok
            print(f"{'OK' if ok else 'NOT OK'}: {name}: first {n} losses vs {cpu}: largest relative difference "
                  f"{worst:.2e} (tolerance {tol:g}); "
                  + " ".join(f"{a['loss']:.4f}/{b['loss']:.4f}" for a, b in zip(ref[:n], tr[:n])))
        losses = [x["loss"] for x in tr if x["loss"] is not None]
        if name in falls:
            q = max(1, len(losses) // 4)
            last = sum(losses[-q:]) / q if losses else float("nan")
            ok = len(losses) >= 4 and last < losses[0]
            bad += not ok
            print(f"{'OK' if ok else 'NOT OK'}: {name}: loss falls: {losses[0] if losses else float('nan'):.4f} at "
                  f"step 1 -> {last:.4f} (mean of the last {q} of {len(losses)} steps)")
        fs, ms = st.get("first_step_ms"), st.get("median_step_ms")
        medians[name] = ms
        gr = ""
        if "graph_replays" in st:
            gr = (f", graphs {dev.get('graphs')}: {st['graph_replays']} replayed / {st['graph_captures']} captured / "
                  f"{st['eager_runs']} eager / {st['graph_failed']} failed")
        if name in graphs:
            ok = dev.get("graphs") == "on" and st.get("graph_replays", 0) > 0 and st.get("graph_failed", 1) == 0
            bad += not ok
            print(f"{'OK' if ok else 'NOT OK'}: {name}: CUDA graphs{gr or ': no device_stats line'}"
                  + ("" if dev.get("graphs") == "on" else f" ({dev.get('graphs_because')})"))
        summary.append(f"{name} {len(tr)} steps ({dev.get('step')}, {dev.get('precision', 'fp32')}): first {fs} ms, "
                       f"median {ms} ms" + (f", loss {losses[0]:.3f} -> {losses[-1]:.3f}" if losses else "") + gr)
    if ratio:
        names = []
        for r in ratio:
            name, _, path = r.partition("=")
            if path:
                medians[name] = read(path)["stats"].get("median_step_ms")
            names.append(name)
        a, b = medians.get(names[0]), medians.get(names[1])
        if a and b:
            summary.append(f"median step {names[0]} / {names[1]} = {a:.3f} / {b:.3f} ms = {a / b:.2f}")
    print("SUMMARY " + "; ".join(summary))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
