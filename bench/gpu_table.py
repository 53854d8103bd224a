#!/usr/bin/env python3
"""gpu_table.py BENCH_TSV TORCH_JSON [TORCH_LOG PARTS_TSV] — issue #7's table from bench/gpu.sh's two measurements
(cuda_check --bench-only's bench.tsv and torch_ref.py --json), taken on the same GPU in the same
run: workload, mamc ms, PyTorch eager ms, torch.compile ms, ratios, achieved TFLOP/s (mamc:
the GEMM FLOPs of the step over its time) and % of the measured bf16 GEMM peak (torch_ref's
"gemm N^3 bf16" ceiling). Missing numbers print as "-"; never fails on partial input.
TORCH_LOG: torch_ref.py's lines, each led by the second (of gpu.sh's clock) it was printed at;
rows there and not in the JSON (torch_ref killed before it wrote it) are taken from it, and a
row measured while one of PARTS_TSV's GPU parts (check, train: name, start s, end s) ran on
the same GPU is marked "*" (its time shared the GPU)."""
import json, re, sys

def load_tsv(path):
    rows = {}
    try:
        with open(path) as f:
            head = f.readline().rstrip("\n").split("\t")
            for line in f:
                r = dict(zip(head, line.rstrip("\n").split("\t")))
                rows[r["workload"]] = r
    except OSError as e:
        print(f"(no mamc numbers: {e})")
    return rows

def load_json(path):
    try:
        return {r["workload"]: r for r in json.load(open(path))}
    except (OSError, ValueError) as e:
        print(f"(no PyTorch numbers: {e})")
        return {}

def num(x):
    try:
        v = float(x)
        return v if v >= 0 else None
    except (TypeError, ValueError):
        return None

def load_log(path, parts_path, torch):
    """rows from the stamped log (kept where the JSON lacks them); marks those that overlapped"""
    wins, shared = [], set()
    try:
        for line in open(parts_path):
            f = line.split()
            if len(f) == 3 and f[0] in ("check", "train"):
                wins.append((float(f[1]), float(f[2])))
    except (OSError, ValueError):
        pass
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return shared
    prev = None
    for line in lines:
        ts, _, text = line.partition("\t")
        try:
            t = float(ts)
        except ValueError:
            continue
        m = re.match(r"(.{58}) +(failed|([0-9.]+) ms)  ?(.*)$", text)
        if m:
            name = m.group(1).strip()
            if name not in torch:
                torch[name] = {"workload": name, "ms": float(m.group(3)) if m.group(3) else None, "note": m.group(4)}
            lo = prev if prev is not None else t
            if any(lo <= b and t >= a for a, b in wins):
                shared.add(name)
        prev = t
    return shared

mamc = load_tsv(sys.argv[1] if len(sys.argv) > 1 else "bench.tsv")
torch = load_json(sys.argv[2] if len(sys.argv) > 2 else "torch.json")
shared = load_log(sys.argv[3], sys.argv[4], torch) if len(sys.argv) > 4 else set()
peak = None
for name, r in torch.items():
    m = re.search(r"([0-9.]+) TFLOP/s", r.get("note") or "")
    if name.startswith("gemm") and "bf16" in name and m:
        peak = max(peak or 0, float(m.group(1)))

def find(prefix, mode):
    for name, r in torch.items():
        if name.startswith(prefix) and name.endswith(mode):
            return num(r.get("ms"))
    return None

def star(name_or_prefix, mode=""):
    return any(n.startswith(name_or_prefix) and n.endswith(mode) for n in shared)

# mamc workload -> (torch prefix, eager mode suffix, compile mode suffix)
pairs = [
    ("mt step (bf16)", "train mt", "bf16", "compile"),
    ("mt step (bf16, attention as products)", "train mt", "bf16", "compile"),
    ("mt step (bf16, attention I/O as copies)", "train mt", "bf16", "compile"),
    ("mt step (f32)", "train mt", "fp32", None),
    ("tiny step (bf16)", "train tiny", "bf16", "compile"),
    ("tiny step (f32)", "train tiny", "bf16", "compile"),
    ("mt step (bf16, CUDA graph)", "train mt", "bf16", "compile"),
    ("mt step (bf16, GEMMs tuned)", "train mt", "bf16", "compile"),
    ("mt step (bf16, GEMMs tuned, CUDA graph)", "train mt", "bf16", "compile"),
    ("tiny step (bf16, CUDA graph)", "train tiny", "bf16", "compile"),
    ("tiny step (f32, CUDA graph)", "train tiny", "bf16", "compile"),
]
for T in (1024, 4096, 16384):
    pairs.append((f"attn softmax fwd+bwd T={T} (bf16, tensor cores)", f"attn softmax (flash sdpa) causal fwd+bwd T={T}", "", None))
    pairs.append((f"attn softmax fwd+bwd T={T}", f"attn softmax (flash sdpa) causal fwd+bwd T={T}", "", None))
    # the core as torch_ref.py times it (features + causal linear attention); the layer row
    # (projections, embedding, loss too) is listed below the pairs, with no torch number
    # (tensor cores: linattn_tc.cu, the default on sm_80+; then linattn.cu's CUDA-core kernels)
    for form in ("", " (CUDA cores)"):
        pairs.append((f"attn dijiang core fwd+bwd T={T}{form}", f"attn dct-linear chunked eager fwd+bwd T={T}", "",
                      f"attn dct-linear chunked compile fwd+bwd T={T}"))

def fmt(x, f="{:.3f}"):
    return f.format(x) if x is not None else "-"

print(f"bf16 GEMM peak measured by torch_ref: {fmt(peak, '{:.0f}')} TFLOP/s\n")
print("| workload | mamc ms | first step ms | torch eager ms | torch.compile ms | eager/mamc | compile/mamc | mamc GEMM TFLOP/s | % bf16 peak |")
print("|---|---|---|---|---|---|---|---|---|")
seen = set()
for w, tp, eager, comp in pairs:
    r = mamc.get(w, {})
    seen.add(w)
    ms = num(r.get("median_ms"))
    first = num(r.get("first_ms"))
    tf = num(r.get("gemm_tflops"))
    if eager == "":
        e = num(torch.get(tp, {}).get("ms"))
    else:
        e = find(tp, eager)
    c = None
    if comp:
        c = num(torch.get(comp, {}).get("ms")) if comp.startswith("attn") else find(tp, comp)
    ratio = lambda a: a / ms if (a is not None and ms) else None
    pk = 100 * tf / peak if (tf is not None and peak) else None
    es = "*" if star(tp, eager) else ""
    cs = "*" if comp and (star(comp) if comp.startswith("attn") else star(tp, comp)) else ""
    print(f"| {w} | {fmt(ms)} | {fmt(first, '{:.0f}')} | {fmt(e)}{es} | {fmt(c)}{cs} | {fmt(ratio(e), '{:.2f}')} | "
          f"{fmt(ratio(c), '{:.2f}')} | {fmt(tf, '{:.1f}')} | {fmt(pk, '{:.1f}')} |")
for w, r in mamc.items():
    if w not in seen:
        print(f"| {w} | {fmt(num(r.get('median_ms')))} | {fmt(num(r.get('first_ms')), '{:.0f}')} | - | - | - | - | "
              f"{fmt(num(r.get('gemm_tflops')), '{:.1f}')} | - |")
if shared:
    print("\n* measured while mamc's check or train part used the same GPU: " + "; ".join(sorted(shared)))
print("\nTargets (issue #7): mt step >= 2x faster than torch.compile (>= 50% of bf16 peak); tiny step <= 0.5 ms;"
      " DiJiang attention at T = 16k <= 1 ms; first step <= 1 s with a warm kernel cache.")
notes = [f"{w}: {r.get('note', '')}" for w, r in mamc.items()]
if notes:
    print("\nmamc notes:\n" + "\n".join("- " + n for n in notes))
