#!/usr/bin/python3
"""Reads the files write_npy made with NumPy and checks every value (exit 77: NumPy missing)."""
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)

d = sys.argv[1]
m = np.load(f"{d}/f4_3x4.npy")
assert m.dtype == np.float32 and m.shape == (3, 4), (m.dtype, m.shape)
assert (m == np.arange(12, dtype=np.float32).reshape(3, 4) / 4).all()
t = np.load(f"{d}/f4_4x3_transposed.npy")
assert t.shape == (4, 3) and t.flags.f_contiguous and (t == m.T).all()
c = np.load(f"{d}/f8_2x2x2.npy")
assert c.dtype == np.float64 and (c == -np.arange(8).reshape(2, 2, 2)).all()
i = np.load(f"{d}/i8_3.npy")
assert i.dtype == np.int64 and i.tolist() == [-1, 0, 1 << 40]
b = np.load(f"{d}/b1_2.npy")
assert b.dtype == np.bool_ and b.tolist() == [True, False]
h = np.load(f"{d}/f2_2.npy")
assert h.dtype == np.float16 and h.tolist() == [0.5, -65504.0]
s = np.load(f"{d}/f4_scalar.npy")
assert s.shape == () and s == 0
e = np.load(f"{d}/f4_empty.npy")
assert e.shape == (0, 5) and e.dtype == np.float32
# The safetensors file, read with only json and NumPy (an independent reader of the format).
import json
import struct
raw = open(f"{d}/mixed.safetensors", "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
assert (8 + n) % 8 == 0
header = json.loads(raw[8:8 + n])
assert header["__metadata__"] == {"format": "pt"}
data = raw[8 + n:]
def tensor(name, dtype):
    begin, end = header[name]["data_offsets"]
    return np.frombuffer(data[begin:end], dtype=dtype).reshape(header[name]["shape"])
assert header["m"]["dtype"] == "F32" and (tensor("m", "<f4") == m).all()
assert header["ints"]["dtype"] == "I64" and tensor("ints", "<i8").tolist() == [-1, 0, 1 << 40]
assert header["halves"]["dtype"] == "F16" and tensor("halves", "<f2").tolist() == [0.5, -65504.0]
assert sum(e - b for b, e in (header[k]["data_offsets"] for k in ("m", "ints", "halves"))) == len(data)
print("NumPy read all 8 .npy files and the .safetensors file forma wrote")
