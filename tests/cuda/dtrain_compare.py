"""dtrain_compare.py — what tests/cuda/dtrain_test.sh checks of two training runs (the CPU's and
train.device: cuda's), without numpy:
  metrics A.jsonl B.jsonl TOL      per-step train loss and gradient norm, and every validation
                                   loss, agree within TOL relative (same steps in both)
  ckpt A B TOL [--all]             every parameter tensor of two checkpoint folders (DIR, or
                                   DIR/latest's step) agrees normwise: max|a - b| / max|a| <= TOL.
                                   Attention key biases (*.wk.b) are left out unless --all: their
                                   exact gradient is zero (softmax ignores a constant added to a
                                   query's scores), so AdamW turns rounding noise into +-lr steps
                                   of arbitrary sign (tests/dist/mpi_test.sh says the same)
  differ A.jsonl B.jsonl MIN       some train loss differs by more than MIN relative (a run that
                                   should not be the same computation, e.g. bf16 products, is not)
  device X.jsonl KEY=VALUE ...     X's {"type": "device"} / {"type": "device_stats"} lines hold
                                   these values (the negative check: the device really ran);
                                   KEY>NUMBER: more than that. Always: graph_replays +
                                   graph_captures + eager_runs = train_runs
Exit 0 when it holds, 1 otherwise (with what differs)."""
import json, os, struct, sys


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def rel(a, b):
    return abs(a - b) / max(abs(a), 1e-12)


def metrics(a, b, tol):
    la, lb = lines(a), lines(b)
    worst, bad, n = 0.0, 0, 0
    for kind, keys in (("train", ("loss", "grad_norm")), ("valid", ("mean",))):
        ra = {x["step"]: x for x in la if x.get("type") == kind}
        rb = {x["step"]: x for x in lb if x.get("type") == kind}
        if sorted(ra) != sorted(rb) or (kind == "train" and not ra):
            print(f"NOT OK: {kind} lines at steps {sorted(ra)} and {sorted(rb)}")
            return 1
        for s in sorted(ra):
            for k in keys:
                e = rel(ra[s][k], rb[s][k])
                n += 1
                worst = max(worst, e)
                if e > tol:
                    bad += 1
                    print(f"NOT OK: {kind} step {s} {k}: {ra[s][k]} vs {rb[s][k]} (relative {e:.2e})")
    print(f"{'OK' if not bad else 'NOT OK'}: {n} losses and norms, largest relative difference {worst:.2e} (tolerance {tol:g})")
    return 1 if bad else 0


def differ(a, b, least):
    ra = {x["step"]: x["loss"] for x in lines(a) if x.get("type") == "train"}
    rb = {x["step"]: x["loss"] for x in lines(b) if x.get("type") == "train"}
    worst = max((rel(ra[s], rb[s]) for s in ra if s in rb), default=0.0)
    ok = worst > least
    print(f"{'OK' if ok else 'NOT OK'}: {a} and {b} differ: largest relative loss difference {worst:.2e} "
          f"(expected more than {least:g})")
    return 0 if ok else 1


def folder(d):
    latest = os.path.join(d, "latest")
    if os.path.exists(latest):
        return os.path.join(d, open(latest).read().strip())
    return d


def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__" or v["dtype"] != "F32" or ".adam_" in k or k.startswith("outer."):
            continue
        s, e = v["data_offsets"]
        out[k] = struct.unpack("<%df" % ((e - s) // 4), b[8 + n + s:8 + n + e])
    return out


def ckpt(a, b, tol, everything):
    a, b = folder(a), folder(b)
    files = sorted(f for f in os.listdir(a) if f.endswith(".safetensors"))
    if not files or sorted(f for f in os.listdir(b) if f.endswith(".safetensors")) != files:
        print(f"NOT OK: the checkpoints {a} and {b} do not hold the same module files")
        return 1
    worst, where, bad, n, left = 0.0, "", 0, 0, 0
    for f in files:
        ta, tb = tensors(os.path.join(a, f)), tensors(os.path.join(b, f))
        if sorted(ta) != sorted(tb):
            print(f"NOT OK: {f}: different tensors")
            return 1
        for k in ta:
            if not everything and k.endswith("wk.b"):
                left += 1
                continue
            x, y = ta[k], tb[k]
            e = max(abs(p - q) for p, q in zip(x, y)) / max(max(abs(p) for p in x), 1e-30)
            n += 1
            if e > worst:
                worst, where = e, f"{f}:{k}"
            if e > tol:
                bad += 1
                print(f"NOT OK: {f}:{k}: normwise relative difference {e:.2e}")
    print(f"{'OK' if not bad else 'NOT OK'}: {n} parameter tensors in {len(files)} modules, largest normwise relative "
          f"difference {worst:.2e} at {where or '-'} (tolerance {tol:g}; {left} key biases left out)")
    return 1 if bad else 0


def device(path, wants):
    got = {}
    for x in lines(path):
        if x.get("type") in ("device", "device_stats"):
            got.update(x)
    bad = 0
    for w in wants:
        if ">" in w:
            k, v = w.split(">", 1)
            if not isinstance(got.get(k), (int, float)) or not got[k] > float(v):
                bad += 1
                print(f"NOT OK: {path}: {k} is {got.get(k)!r}, expected more than {v}")
            continue
        k, v = w.split("=", 1)
        if str(got.get(k)) != v:
            bad += 1
            print(f"NOT OK: {path}: {k} is {got.get(k)!r}, expected {v}")
    if "graph_replays" in got and got["graph_replays"] + got["graph_captures"] + got["eager_runs"] != got["train_runs"]:
        bad += 1
        print(f"NOT OK: {path}: graph replays + captures + eager runs != train runs")
    if not bad:
        print(f"OK: {path}: " + ", ".join(wants))
    return 1 if bad else 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "metrics":
        sys.exit(metrics(args[0], args[1], float(args[2])))
    if cmd == "ckpt":
        sys.exit(ckpt(args[0], args[1], float(args[2]), "--all" in args[3:]))
    if cmd == "differ":
        sys.exit(differ(args[0], args[1], float(args[2])))
    if cmd == "device":
        sys.exit(device(args[0], args[1:]))
    sys.exit(f"usage: {sys.argv[0]} metrics|ckpt|differ|device ...")
