"""A gesta model read for the peers: its layers from the YAML file, its
weights from the safetensors file (with numpy only), and the per-sample
shape after every layer, so that each peer builds the same network with the
same weights in Keras' layouts."""

import json
import os
import struct

import numpy as np

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
SUPPORTED = ("conv2d", "max_pool2d", "global_avg_pool2d", "batch_norm",
             "dense", "dropout", "flatten", "lstm") + ACTIVATIONS


class SpecError(Exception):
    """A model the peers cannot build (an op or an option they lack)."""


def read_safetensors(path):
    """Every tensor of a safetensors file as a float32 numpy array."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise SpecError("%s: tensor %s is %s; only F32 is read" %
                            (path, name, entry["dtype"]))
        a, b = entry["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(
            entry["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    """Named float32 arrays to a safetensors file."""
    header, blobs, at = {}, [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def _pair(v, default=None):
    if v is None:
        v = default
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def _window_out(size, k, s, padding):
    if padding == "same":
        return -(-size // s)
    return (size - k) // s + 1


class Layer:
    """One layer: op, attributes, whether time-distributed, its weights and
    its per-sample (per-frame when time-distributed) input and output
    shapes."""

    def __init__(self, entry, weights):
        self.name = entry["name"]
        self.op = entry["op"]
        self.td = bool(entry.get("time_distributed", False))
        self.attrs = {k: v for k, v in entry.items()
                      if k not in ("name", "op", "time_distributed", "inputs")}
        if "inputs" in entry and len(entry["inputs"]) != 1:
            raise SpecError("layer %s: only a chain of layers is built, "
                            "not a graph" % self.name)
        if self.op not in SUPPORTED:
            raise SpecError("layer %s: op %s is not built by the peers" %
                            (self.name, self.op))
        prefix = self.name + "."
        self.params = {k[len(prefix):]: v for k, v in weights.items()
                       if k.startswith(prefix)}
        self.in_shape = self.out_shape = None

    def get(self, key, default=None):
        return self.attrs.get(key, default)

    def activation(self):
        act = self.get("activation", "linear")
        if act not in ACTIVATIONS:
            raise SpecError("layer %s: activation %s" % (self.name, act))
        return act


class ModelSpec:
    """The model a YAML file names, with its weights."""

    def __init__(self, yaml_path, weights_path=None):
        try:
            import yaml
        except ImportError as e:
            raise SpecError("reading model files needs PyYAML (%s); on "
                            "Debian: apt-get install python3-yaml" % e)
        with open(yaml_path) as f:
            doc = yaml.safe_load(f)
        self.path = yaml_path
        self.name = doc.get("name") or os.path.splitext(
            os.path.basename(yaml_path))[0]
        self.input_shape = tuple(int(d) for d in doc["input"]["shape"])
        if weights_path is None:
            weights_path = os.path.join(os.path.dirname(yaml_path),
                                        doc.get("weights", ""))
        self.weights_path = weights_path
        self.weights = read_safetensors(weights_path)
        self.layers = [Layer(e, self.weights) for e in doc["layers"]]
        self.clip = len(self.input_shape) == 4
        self._infer_shapes()

    @property
    def frames(self):
        return self.input_shape[0] if self.clip else 1

    def _infer_shapes(self):
        # The shape every layer sees per sample, without the time axis for
        # a time-distributed layer: checks the layers fit together and
        # gives the sizes a peer's reshapes need.
        shape = self.input_shape
        for l in self.layers:
            if l.td:
                if len(shape) < 2:
                    raise SpecError("layer %s: time-distributed over %s" %
                                    (l.name, shape))
                frame = shape[1:]
            else:
                frame = shape
            l.in_shape = frame
            l.out_shape = self._out(l, frame)
            shape = (shape[0],) + l.out_shape if l.td else l.out_shape

    def _out(self, l, s):
        if l.op in ("conv2d", "max_pool2d"):
            if len(s) != 3:
                raise SpecError("layer %s: wants (H, W, C), got %s" %
                                (l.name, s))
            k = _pair(l.get("kernel" if l.op == "conv2d" else "pool_size"), 2)
            st = _pair(l.get("strides"), k if l.op == "max_pool2d" else 1)
            pad = l.get("padding", "valid")
            c = int(l.get("filters")) if l.op == "conv2d" else s[2]
            return (_window_out(s[0], k[0], st[0], pad),
                    _window_out(s[1], k[1], st[1], pad), c)
        if l.op == "global_avg_pool2d":
            return (s[2],)
        if l.op == "dense":
            return s[:-1] + (int(l.get("units")),)
        if l.op == "flatten":
            return (int(np.prod(s)),)
        if l.op == "lstm":
            u = int(l.get("units"))
            return (s[0], u) if l.get("return_sequences", False) else (u,)
        return s


def conv_padding(l):
    """(top, bottom, left, right) zero padding of a conv2d or max_pool2d
    layer, as Keras/TensorFlow place it."""
    k = _pair(l.get("kernel" if l.op == "conv2d" else "pool_size"), 2)
    st = _pair(l.get("strides"), k if l.op == "max_pool2d" else 1)
    if l.get("padding", "valid") != "same":
        return (0, 0, 0, 0), k, st
    pads = []
    for size, kk, ss, out in zip(l.in_shape[:2], k, st, l.out_shape[:2]):
        p = max((out - 1) * ss + kk - size, 0)
        pads += [p // 2, p - p // 2]
    return tuple(pads), k, st
