"""The run: inputs and gesta's reference outputs, gesta's own timings
(`gesta bench`, peak resident memory from wait4), one worker process per
peer, and the report."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from . import report
from .spec import ModelSpec, SpecError, read_safetensors, write_safetensors
from .workers import PEER_NAMES

ONNX_PEERS = ("onnxruntime", "opencv", "opencv-opencl")


class GestaFailed(Exception):
    pass


class Task:
    """One measurement: a model, inference or training, a batch."""

    def __init__(self, model, kind, batch):
        self.model, self.kind, self.batch = model, kind, batch
        self.id = "%s-%s-b%d" % (model.name, kind, batch)
        self.input = self.ref = self.targets = self.onnx = None

    @property
    def unit(self):
        return "clips/s" if self.model.clip else "frames/s"

    @property
    def label(self):
        what = "training" if self.kind == "train" else "inference"
        return "%s %s b%d" % (self.model.name.upper(), what, self.batch)


def make_tasks(models):
    tasks = []
    for m in models:
        if m.clip:
            tasks += [Task(m, "infer", 1), Task(m, "infer", 8),
                      Task(m, "train", 4)]
        else:
            tasks += [Task(m, "infer", 1), Task(m, "infer", 32)]
    return tasks


def resolve_model(name, root):
    if os.path.exists(name):
        return name
    path = os.path.join(root, "models", name + ".yaml")
    if os.path.exists(path):
        return path
    raise SpecError("no model '%s' (a bundled name such as lrcn or cnn, or "
                    "a YAML file)" % name)


def run_child(cmd, env=None, verbose=False):
    """Runs cmd and returns (exit status, stdout, stderr, peak RSS in
    bytes) of that one process."""
    if verbose:
        print("bench-peers: $ " + " ".join(cmd), file=sys.stderr)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_maxrss * 1024)


def thread_env(threads, extra=None):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra or {})
    return env


def _last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1][:200] if lines else "no message"


def prepare_inputs(args, tasks, work):
    """A seeded uniform [0, 1) input per task (one-hot random targets for
    training) and gesta's output on it, through `gesta run` on the CPU."""
    rng = np.random.default_rng(args.seed)
    for t in tasks:
        m = t.model
        x = rng.random((t.batch,) + m.input_shape, dtype=np.float32)
        base = os.path.join(work, t.id)
        t.input = base + ".input.npy"
        np.save(t.input, x)
        write_safetensors(base + ".input.safetensors", {"input": x})
        classes = m.layers[-1].out_shape[-1]
        y = np.zeros((t.batch, classes), np.float32)
        y[np.arange(t.batch), rng.integers(0, classes, t.batch)] = 1
        t.targets = base + ".targets.npy"
        np.save(t.targets, y)
        cmd = [args.gesta, "run", m.path, "--weights", m.weights_path,
               "--input", base + ".input.safetensors", "-o",
               base + ".gesta.safetensors", "--backend", "cpu", "-q"]
        rc, _, err, _ = run_child(cmd, thread_env(args.threads),
                                  args.verbose)
        if rc != 0:
            raise GestaFailed("%s: %s" % (" ".join(cmd), _last_line(err)))
        (out,) = read_safetensors(base + ".gesta.safetensors").values()
        t.ref = base + ".gesta.npy"
        np.save(t.ref, out)
        t.onnx = base + ".onnx"


def gesta_bench(args, task, backend):
    cmd = [args.gesta, "bench", task.model.path, "--weights",
           task.model.weights_path, "--backend", backend, "--batch",
           str(task.batch), "-k", str(args.repeat), "--warmup",
           str(args.warmup), "--threads", str(args.threads), "--json", "-q"]
    if task.kind == "train":
        cmd.insert(3, "--train")
    rc, out, err, rss = run_child(cmd, thread_env(args.threads),
                                  args.verbose)
    if rc != 0:
        return {"status": "unavailable", "why": "gesta bench failed: " +
                _last_line(err), "cmd": cmd}
    doc = json.loads(out)
    ms = doc["step_ms" if task.kind == "train" else "forward_ms"]
    return {"status": "ok", "median_ms": ms["median"], "min_ms": ms["min"],
            "max_ms": ms["max"], "peak_rss": rss, "device": doc.get("device"),
            "cmd": cmd}


def summarise(r, batch):
    """Throughput at the median, fastest and slowest repetition."""
    if r.get("status") != "ok":
        return r
    if "times_ms" in r:
        t = sorted(r["times_ms"])
        r["median_ms"] = float(np.median(t))
        r["min_ms"], r["max_ms"] = t[0], t[-1]
    for key, ms in (("median", r["median_ms"]), ("slow", r["max_ms"]),
                    ("fast", r["min_ms"])):
        r[key + "_per_s"] = 1e3 * batch / ms if ms > 0 else 0.0
    return r


def run_worker(args, peer, tasks, work, extra_env=None, onnx=None):
    """One peer's worker process; returns (versions, {task id: result},
    peak RSS, why it is unavailable or None)."""
    job = {"peer": peer, "threads": args.threads, "warmup": args.warmup,
           "repeat": args.repeat, "tolerance": args.tolerance,
           "verbose": args.verbose,
           "result": os.path.join(work, peer + ".result.json"),
           "models": {t.model.name: {"yaml": t.model.path,
                                     "weights": t.model.weights_path}
                      for t in tasks},
           "tasks": []}
    for t in tasks:
        entry = {"id": t.id, "model": t.model.name, "kind": t.kind,
                 "batch": t.batch, "input": t.input, "ref": t.ref,
                 "targets": t.targets, "onnx": t.onnx}
        if onnx is not None:
            o = onnx.get(t.id, {"status": "unavailable",
                                "why": "no ONNX export"})
            entry["onnx_ok"] = o["status"] == "ok"
            entry["onnx_why"] = o.get("why")
        job["tasks"].append(entry)
    path = os.path.join(work, peer + ".job.json")
    with open(path, "w") as f:
        json.dump(job, f)
    script = os.path.join(os.path.dirname(os.path.dirname(
        os.path.realpath(__file__))), "bench-peers")
    rc, _, err, rss = run_child([sys.executable, script, "--worker", path],
                                thread_env(args.threads, extra_env),
                                args.verbose)
    if args.verbose and err.strip():
        sys.stderr.write(err)
    result = {"versions": {}, "tasks": {}}
    if os.path.exists(job["result"]):
        with open(job["result"]) as f:
            result = json.load(f)
    if "unavailable" in result:
        return result["versions"], {}, rss, result["unavailable"]
    why_crash = None
    if rc != 0:
        why_crash = ("worker crashed (signal %d)" % -rc if rc < 0 else
                     "worker failed (exit %d): %s" % (rc, _last_line(err)))
    for t in tasks:
        if t.id not in result["tasks"]:
            result["tasks"][t.id] = {"status": "unavailable",
                                     "why": why_crash or "no result"}
    return result["versions"], result["tasks"], rss, None


def run(args, root):
    try:
        models = [ModelSpec(resolve_model(m, root)) for m in args.models]
    except (SpecError, OSError, KeyError) as e:
        print("bench-peers: error: %s" % e, file=sys.stderr)
        return 2
    if not os.access(args.gesta, os.X_OK):
        print("bench-peers: error: no gesta binary at %s (build it, or "
              "pass --gesta PATH)" % args.gesta, file=sys.stderr)
        return 2
    tasks = make_tasks(models)
    env_before = report.environment(args)
    work = tempfile.mkdtemp(prefix="gesta-bench-peers-")
    try:
        return _run(args, tasks, work, env_before)
    except GestaFailed as e:
        print("bench-peers: error: gesta failed: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args, tasks, work, env_before):
    log = lambda msg: print("bench-peers: " + msg, file=sys.stderr,
                            flush=True)
    log("reference outputs (gesta run, CPU)")
    prepare_inputs(args, tasks, work)
    rows = []  # (name, {task id: result}, peak rss or None)
    gesta = {}
    for t in tasks:
        log("gesta: %s" % t.label)
        gesta[t.id] = summarise(gesta_bench(args, t, "cpu"), t.batch)
        if gesta[t.id]["status"] != "ok":
            raise GestaFailed(gesta[t.id]["why"])
    rows.append(("gesta (CPU)", gesta))
    versions = {}
    onnx = None
    if any(p in ONNX_PEERS for p in args.peers):
        log("ONNX export (PyTorch)")
        infer = [t for t in tasks if t.kind == "infer"]
        v, onnx, _, why = run_worker(args, "export", infer, work)
        if why:
            onnx = {t.id: {"status": "unavailable",
                           "why": "no ONNX export: " + why} for t in infer}
        versions.update(v)
    peak = {}
    for peer in args.peers:
        if peer == "gesta-opencl":
            log("gesta on OpenCL")
            res = {t.id: summarise(gesta_bench(args, t, "opencl"), t.batch)
                   for t in tasks}
            for r in res.values():
                if r.get("device"):
                    versions["gesta OpenCL device"] = r["device"]
            rows.append(("gesta (OpenCL)", res))
            continue
        log(peer)
        ptasks = [t for t in tasks
                  if peer in ("pytorch", "keras") or t.kind == "infer"]
        extra = {"OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES": "1"} \
            if peer == "opencv-opencl" else None
        v, res, rss, why = run_worker(args, peer, ptasks, work, extra,
                                      onnx if peer in ONNX_PEERS else None)
        versions.update(v)
        peak[PEER_NAMES[peer]] = rss
        if why:
            res = {t.id: {"status": "unavailable", "why": why}
                   for t in ptasks}
        for t in tasks:
            if t.id not in res:
                res[t.id] = {"status": "n/a", "why": "inference only"}
            summarise(res[t.id], t.batch)
        rows.append((PEER_NAMES[peer], res))
    text = report.render(args, tasks, rows, versions, peak, env_before,
                         report.environment(args))
    sys.stdout.write(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        log("report written to %s" % args.output)
    return 0
