"""The model as a PyTorch module taking gesta's NHWC input (the time axis
second for a clip model) and computing in PyTorch's NCHW layout, with the
Keras-layout weights converted (conv kernels (kh, kw, C, F) to (F, C, kh,
kw), dense and LSTM kernels transposed). Flatten goes back to NHWC first so
that the features come in Keras' order."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .spec import SpecError, conv_padding


def _t(a):
    return torch.from_numpy(a.copy())


def _act(x, act, dim):
    if act == "relu":
        return torch.relu(x)
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "tanh":
        return torch.tanh(x)
    if act == "softmax":
        return torch.softmax(x, dim)
    return x


class GestaNet(nn.Module):
    """logits=True leaves out a final softmax (for training with
    cross-entropy on logits, PyTorch's usual and fastest form)."""

    def __init__(self, spec, logits=False):
        super().__init__()
        self.clip = spec.clip
        self.frames = spec.frames
        self.in_frame = spec.input_shape[1:] if spec.clip else spec.input_shape
        self.steps = []
        self.mods = nn.ModuleList()
        last = len(spec.layers) - 1
        for i, l in enumerate(spec.layers):
            self.steps.append(self._build(l, logits and i == last))

    def _add(self, mod):
        self.mods.append(mod)
        return len(self.mods) - 1

    def _build(self, l, drop_softmax):
        p = l.params
        act = l.op if l.op in ("relu", "sigmoid", "tanh", "softmax",
                               "linear") else None
        if act:
            return ("act", None, "linear" if drop_softmax else act)
        act = l.activation() if l.op in ("conv2d", "dense") else "linear"
        if drop_softmax:
            if act not in ("softmax", "linear"):
                raise SpecError("layer %s: training the last layer needs a "
                                "softmax or linear output" % l.name)
            act = "linear"
        if l.op == "conv2d":
            pads, k, st = conv_padding(l)
            m = nn.Conv2d(l.in_shape[2], int(l.get("filters")), k, st,
                          bias="bias" in p)
            m.weight.data = _t(p["kernel"].transpose(3, 2, 0, 1))
            if "bias" in p:
                m.bias.data = _t(p["bias"])
            if pads[0] == pads[1] and pads[2] == pads[3]:
                m.padding = (pads[0], pads[2])
                pads = None
            return ("conv", self._add(m), (act, pads))
        if l.op == "max_pool2d":
            pads, k, st = conv_padding(l)
            if any(pads):
                raise SpecError("layer %s: max pooling with padding 'same' "
                                "is not built for PyTorch" % l.name)
            return ("module", self._add(nn.MaxPool2d(k, st)), None)
        if l.op == "dropout":
            return ("module", self._add(nn.Dropout(float(l.get("rate")))),
                    None)
        if l.op == "batch_norm":
            n = l.in_shape[-1]
            cls = nn.BatchNorm2d if len(l.in_shape) == 3 else nn.BatchNorm1d
            if len(l.in_shape) not in (1, 3):
                raise SpecError("layer %s: batch_norm over %s" %
                                (l.name, l.in_shape))
            m = cls(n, eps=float(l.get("epsilon", 1e-3)),
                    momentum=1.0 - float(l.get("momentum", 0.99)))
            m.weight.data = _t(p["gamma"])
            m.bias.data = _t(p["beta"])
            m.running_mean.data = _t(p["moving_mean"])
            m.running_var.data = _t(p["moving_variance"])
            return ("module", self._add(m), None)
        if l.op == "dense":
            m = nn.Linear(l.in_shape[-1], int(l.get("units")),
                          bias="bias" in p)
            m.weight.data = _t(p["kernel"].T)
            if "bias" in p:
                m.bias.data = _t(p["bias"])
            return ("dense", self._add(m), act)
        if l.op == "lstm":
            u = int(l.get("units"))
            m = nn.LSTM(l.in_shape[-1], u, batch_first=True,
                        bias="bias" in p)
            # Both use the gate order i, f, g (Keras' c), o.
            m.weight_ih_l0.data = _t(p["kernel"].T)
            m.weight_hh_l0.data = _t(p["recurrent_kernel"].T)
            if "bias" in p:
                m.bias_ih_l0.data = _t(p["bias"])
                m.bias_hh_l0.data.zero_()
            return ("lstm", self._add(m), bool(l.get("return_sequences")))
        if l.op == "flatten":
            return ("flatten", None, (l.td, l.out_shape[0]))
        if l.op == "global_avg_pool2d":
            return ("gap", None, (l.td, l.out_shape[0]))
        raise SpecError("layer %s: op %s" % (l.name, l.op))

    def forward(self, x):
        h, w, c = self.in_frame
        if self.clip:
            x = x.reshape(-1, h, w, c)
        x = x.permute(0, 3, 1, 2)
        image = True  # NCHW frames until flatten or pooling ends them
        for kind, idx, extra in self.steps:
            mod = self.mods[idx] if idx is not None else None
            if kind == "conv":
                act, pads = extra
                if pads is not None:
                    x = F.pad(x, (pads[2], pads[3], pads[0], pads[1]))
                x = _act(mod(x), act, 1)
            elif kind == "module":
                x = mod(x)
            elif kind == "flatten":
                if image:
                    x = x.permute(0, 2, 3, 1)
                    image = False
                td, size = extra
                x = x.reshape(-1, self.frames, size) if td \
                    else x.reshape(-1, size)
            elif kind == "gap":
                x = x.mean((2, 3))
                image = False
                if extra[0]:
                    x = x.reshape(-1, self.frames, extra[1])
            elif kind == "dense":
                x = _act(mod(x), extra, -1)
            elif kind == "lstm":
                out, _ = mod(x)
                # A positive slice and a reshape rather than out[:, -1]:
                # OpenCV's ONNX importer misreads a negative index there.
                x = out if extra else out[:, self.frames - 1:self.frames] \
                    .reshape(-1, mod.hidden_size)
            elif kind == "act":
                x = _act(x, extra, 1 if image else -1)
        if image:
            x = x.permute(0, 2, 3, 1)
        return x
