"""One peer in a process of its own (tools/bench-peers --worker JOB.json):
builds every model the job names, checks its output against gesta's on the
very same input, and times the tasks it passes. Results go to the job's
result file after every task, so a crash keeps what came before."""

import json
import sys
import os
import time
import traceback

import numpy as np

from .spec import ModelSpec

PEER_NAMES = {
    "pytorch": "PyTorch (TorchScript, frozen)",
    "onnxruntime": "ONNX Runtime",
    "opencv": "OpenCV DNN (CPU)",
    "opencv-opencl": "OpenCV DNN (OpenCL)",
    "keras": "TensorFlow/Keras (tf.function)",
}


class Unavailable(Exception):
    """The peer cannot run this (a module, a layer, a device is missing)."""


def _short(e):
    text = str(e).strip().splitlines()
    text = text[0] if text else type(e).__name__
    return (text[:160] + "...") if len(text) > 160 else text


def timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(1e3 * (time.perf_counter() - t0))
    return out


class TorchPeer:
    def __init__(self, job):
        try:
            import torch
        except ImportError as e:
            raise Unavailable("%s (apt-get install python3-torch)" % e)
        self.torch = torch
        torch.set_num_threads(job["threads"])
        torch.set_num_interop_threads(1)
        self.versions = {"PyTorch": torch.__version__}

    def net(self, spec, logits=False):
        from .torch_net import GestaNet
        return GestaNet(spec, logits)

    def infer(self, spec, task, x):
        torch = self.torch
        xt = torch.from_numpy(x)
        with torch.no_grad():
            model = torch.jit.trace(self.net(spec).eval(), xt)
            model = torch.jit.optimize_for_inference(torch.jit.freeze(model))

        def run():
            with torch.inference_mode():
                return model(xt).numpy()
        return run

    def check_train(self, spec, x):
        with self.torch.no_grad():
            return self.net(spec).eval()(self.torch.from_numpy(x)).numpy()

    def train(self, spec, task, x, y):
        torch = self.torch
        model = self.net(spec, logits=True).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3,
                               betas=(0.9, 0.999), eps=1e-7)
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y.argmax(-1))

        def step():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xt), yt)
            loss.backward()
            opt.step()
            return loss.item()
        return step


def export_onnx(job, result):
    """The ONNX files ONNX Runtime and OpenCV load, exported from the
    PyTorch model with static shapes (OpenCV's importer wants them)."""
    import warnings
    # The exporter's notes on LSTM batch sizes and shape inference do not
    # apply: every file has static shapes for one batch.
    warnings.filterwarnings("ignore")
    peer = TorchPeer(job)
    torch = peer.torch
    for task in job["tasks"]:
        spec = _spec(job, task)
        x = torch.from_numpy(np.load(task["input"]))
        try:
            with torch.no_grad():
                torch.onnx.export(peer.net(spec).eval(), x, task["onnx"],
                                  input_names=["input"],
                                  output_names=["output"], opset_version=11,
                                  do_constant_folding=True)
            result["tasks"][task["id"]] = {"status": "ok"}
        except Exception as e:
            result["tasks"][task["id"]] = {"status": "unavailable",
                                           "why": "ONNX export: " + _short(e)}
        _write(job, result)


class OrtPeer:
    def __init__(self, job):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise Unavailable("%s (pip install onnxruntime)" % e)
        self.ort = ort
        self.threads = job["threads"]
        self.versions = {"ONNX Runtime": ort.__version__}

    def infer(self, spec, task, x):
        ort = self.ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(_onnx(task), so,
                                    providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}
        return lambda: sess.run(None, feed)[0]


class CvPeer:
    def __init__(self, job, opencl):
        try:
            import cv2
        except ImportError as e:
            raise Unavailable("%s (apt-get install python3-opencv)" % e)
        self.cv2 = cv2
        cv2.setNumThreads(job["threads"])
        self.versions = {"OpenCV": cv2.__version__}
        self.target = cv2.dnn.DNN_TARGET_CPU
        if opencl:
            if not cv2.ocl.haveOpenCL():
                raise Unavailable("OpenCV sees no OpenCL device")
            cv2.ocl.setUseOpenCL(True)
            dev = cv2.ocl.Device.getDefault()
            if not dev.name():
                raise Unavailable("OpenCV opened no OpenCL device "
                                  "(OPENCV_OPENCL_DEVICE=%s)" %
                                  os.environ.get("OPENCV_OPENCL_DEVICE"))
            self.versions["OpenCV OpenCL device"] = "%s (%s)" % (
                dev.name(), dev.version())
            self.target = cv2.dnn.DNN_TARGET_OPENCL

    def infer(self, spec, task, x):
        cv2 = self.cv2
        net = cv2.dnn.readNetFromONNX(_onnx(task))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(self.target)

        def run():
            net.setInput(x)
            return net.forward()
        return run


class KerasPeer:
    def __init__(self, job):
        try:
            import tensorflow as tf
        except ImportError as e:
            raise Unavailable("%s (pip install tensorflow-cpu)" % e)
        self.tf = tf
        tf.config.threading.set_intra_op_parallelism_threads(job["threads"])
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.keras = tf.keras
        try:
            import keras
            version = keras.__version__
        except (ImportError, AttributeError):
            version = getattr(tf.keras, "__version__", "unknown")
        self.versions = {"TensorFlow": tf.__version__, "Keras": version}

    def net(self, spec):
        from .keras_net import build
        return build(spec, self.keras)

    def infer(self, spec, task, x):
        tf = self.tf
        model = self.net(spec)
        fn = tf.function(lambda t: model(t, training=False),
                         input_signature=[tf.TensorSpec(x.shape, tf.float32)])
        xt = tf.constant(x)
        return lambda: fn(xt).numpy()

    def check_train(self, spec, x):
        return self.net(spec)(self.tf.constant(x), training=False).numpy()

    def train(self, spec, task, x, y):
        tf, keras = self.tf, self.keras
        model = self.net(spec)
        opt = keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9,
                                    beta_2=0.999, epsilon=1e-7)
        loss_fn = keras.losses.CategoricalCrossentropy()
        variables = model.trainable_variables

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            opt.apply_gradients(zip(tape.gradient(loss, variables),
                                    variables))
            return loss
        xt, yt = tf.constant(x), tf.constant(y)
        return lambda: step(xt, yt).numpy()


def _onnx(task):
    if not task.get("onnx_ok"):
        raise Unavailable(task.get("onnx_why", "no ONNX file"))
    return task["onnx"]


_SPECS = {}


def _spec(job, task):
    name = task["model"]
    if name not in _SPECS:
        m = job["models"][name]
        _SPECS[name] = ModelSpec(m["yaml"], m["weights"])
    return _SPECS[name]


def _write(job, result):
    tmp = job["result"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, job["result"])


def _check(out, ref, tol):
    out = np.asarray(out, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    if out.shape != ref.shape:
        return None, "output has %d values, gesta's %d" % (out.size, ref.size)
    d = float(np.max(np.abs(out - ref))) if out.size else 0.0
    if not d <= tol:
        return d, "output differs from gesta's by %.3g (tolerance %.0e)" % (
            d, tol)
    return d, None


def run_task(peer, job, task):
    spec = _spec(job, task)
    x = np.load(task["input"])
    ref = np.load(task["ref"])
    if task["kind"] == "train":
        if not hasattr(peer, "train"):
            return {"status": "n/a", "why": "inference only"}
        out = peer.check_train(spec, x)
        diff, bad = _check(out, ref, job["tolerance"])
        if bad:
            return {"status": "mismatch", "why": bad, "max_diff": diff}
        fn = peer.train(spec, task, x, np.load(task["targets"]))
    else:
        fn = peer.infer(spec, task, x)
        diff, bad = _check(fn(), ref, job["tolerance"])
        if bad:
            return {"status": "mismatch", "why": bad, "max_diff": diff}
    times = timed(fn, job["warmup"], job["repeat"])
    return {"status": "ok", "max_diff": diff, "times_ms": times}


def _cv_device_retry(job_path):
    """OpenCV picks its OpenCL device once per process, from
    OPENCV_OPENCL_DEVICE, and only GPUs by default: unless the user chose,
    try a GPU, and run again with any device (a CPU one such as PoCL)
    when there is none."""
    if os.environ.get("OPENCV_OPENCL_DEVICE"):
        return False
    os.environ["OPENCV_OPENCL_DEVICE"] = ":GPU:"
    try:
        import cv2
    except ImportError:
        return False
    if cv2.ocl.haveOpenCL():
        cv2.ocl.setUseOpenCL(True)
        if cv2.ocl.Device.getDefault().name():
            return False
    env = dict(os.environ, OPENCV_OPENCL_DEVICE="::")
    os.execve(sys.executable, [sys.executable, sys.argv[0], "--worker",
                               job_path], env)
    return True


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    result = {"versions": {}, "tasks": {}}
    peer_name = job["peer"]
    try:
        if peer_name == "export":
            return export_onnx(job, result)
        if peer_name == "pytorch":
            peer = TorchPeer(job)
        elif peer_name == "onnxruntime":
            peer = OrtPeer(job)
        elif peer_name == "opencv-opencl" and _cv_device_retry(job_path):
            return None
        elif peer_name in ("opencv", "opencv-opencl"):
            peer = CvPeer(job, peer_name == "opencv-opencl")
        elif peer_name == "keras":
            peer = KerasPeer(job)
        else:
            raise Unavailable("unknown peer %s" % peer_name)
    except Unavailable as e:
        result["unavailable"] = str(e)
        return _write(job, result)
    result["versions"] = peer.versions
    _write(job, result)
    for task in job["tasks"]:
        try:
            r = run_task(peer, job, task)
        except Unavailable as e:
            r = {"status": "unavailable", "why": str(e)}
        except Exception as e:
            r = {"status": "unavailable", "why": _short(e)}
            if job.get("verbose"):
                traceback.print_exc()
        result["tasks"][task["id"]] = r
        _write(job, result)
