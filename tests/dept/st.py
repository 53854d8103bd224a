"""st.py — tiny safetensors reading for the DEPT tests (standard library only): tensors as
(dtype, shape, raw bytes) and f32 rows as tuples of floats."""
import json, struct


def read(path):
    """{name: (dtype, shape, bytes)} of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in head.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = (e["dtype"], e["shape"], data[base + a:base + b])
    return out


def rows(tensor):
    """The rows of an f32 matrix as tuples of floats."""
    dt, shape, raw = tensor
    assert dt == "F32" and len(shape) == 2
    w = shape[1]
    vals = struct.unpack("<%df" % (len(raw) // 4), raw)
    return [vals[i * w:(i + 1) * w] for i in range(shape[0])]
