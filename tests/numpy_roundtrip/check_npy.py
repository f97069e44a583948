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
for code in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
    info = np.iinfo(code)
    v = np.load(f"{d}/{code}_limits.npy")
    assert v.dtype == np.dtype(code) and v.tolist() == [info.min, -1 if info.min < 0 else 1, info.max], (code, v)
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
# Every dtype, each read by its NumPy equivalent (BF16 as the top half of a float32's bits).
raw = open(f"{d}/all.safetensors", "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
assert "__metadata__" not in header and len(header) == 15
want = {"F64": [0.1, -1e300], "F32": np.array([0.1, -3.0], dtype="<f4").tolist(), "F16": [0.5, -65504.0],
        "BOOL": [True, False]}
for bits, code in [(8, "i1"), (16, "i2"), (32, "i4"), (64, "i8")]:
    info = np.iinfo(code)
    want[f"I{bits}"] = [info.min, -1, info.max]
    want[f"U{bits}"] = [0, 1, np.iinfo("u" + code[1:]).max]
codes = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
         "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
for name, code in codes.items():
    assert header[name]["dtype"] == name, (name, header[name])
    assert tensor(name, code).tolist() == want[name], (name, tensor(name, code))
bf16 = tensor("BF16", "<u2").astype(np.uint32) << 16
assert header["BF16"]["dtype"] == "BF16" and bf16.view("<f4").tolist() == [-1.5, 0.0, 2.0 ** 100]
assert header["scalar"] == {"dtype": "F32", "shape": [], "data_offsets": header["scalar"]["data_offsets"]}
assert tensor("scalar", "<f4").tolist() == 0.0
assert header["empty"]["shape"] == [0, 5] and header["empty"]["data_offsets"][0] == header["empty"]["data_offsets"][1]
assert sum(e - b for b, e in (v["data_offsets"] for v in header.values())) == len(data)
print("NumPy read all 16 .npy files, and both .safetensors files forma wrote with every dtype")
