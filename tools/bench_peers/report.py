"""The environment a run saw and the Markdown report."""

import ctypes
import datetime
import os
import platform
import re
import subprocess
import sys


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _openblas(gesta):
    """The OpenBLAS gesta links, and the kernel it picks here (the same
    environment, so the same OPENBLAS_CORETYPE)."""
    try:
        out = subprocess.run(["ldd", gesta], capture_output=True, text=True,
                             check=False).stdout
    except OSError as e:
        return "unknown (ldd: %s)" % e
    m = re.search(r"(lib(?:open)?blas[^ ]*\.so[^ ]*) => (\S+)", out)
    if not m:
        return "gesta links no OpenBLAS"
    path = os.path.realpath(m.group(2))
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        return "%s (cannot load: %s)" % (path, e)
    info = [path]
    for fn in ("openblas_get_config", "openblas_get_corename"):
        f = getattr(lib, fn, None)
        if f is not None:
            f.restype = ctypes.c_char_p
            info.append("%s: %s" % (fn, f().decode()))
    return "; ".join(info)


def environment(args):
    try:
        version = subprocess.run([args.gesta, "--version"],
                                 capture_output=True, text=True,
                                 check=False).stdout.strip()
    except OSError:
        version = "unknown"
    return {
        "date": datetime.datetime.now().astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "load": "%.2f %.2f %.2f" % os.getloadavg(),
        "kernel": platform.platform(),
        "coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "openblas": _openblas(args.gesta),
        "gesta": "%s (%s)" % (version, args.gesta),
        "python": "%s (%s)" % (platform.python_version(), sys.executable),
    }


def _fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def _cell(r):
    s = r.get("status")
    if s == "ok":
        return "%s (%s–%s)" % (_fmt(r["median_per_s"]), _fmt(r["slow_per_s"]),
                               _fmt(r["fast_per_s"]))
    if s == "n/a":
        return "—"
    if s == "mismatch":
        return "not timed: %s" % r["why"]
    return "not available: %s" % r.get("why", "unknown")


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
            for row in rows]
    return "\n".join(out) + "\n"


def render(args, tasks, rows, versions, peak, env0, env1):
    heads = ["%s (%s)" % (t.label, t.unit) for t in tasks]
    labels = [t.label for t in tasks]
    gesta = rows[0][1]
    out = ["# gesta and its peers\n"]
    if args.quick:
        out.append("**--quick: smoke-test counts, not a measurement.**\n")
    out.append("Throughput at the median repetition (slowest–fastest in "
               "brackets), %d threads, %d warm-up + %d timed repetitions; "
               "one repetition is one batch (inference) or one training "
               "step.\n" % (args.threads, args.warmup, args.repeat))
    body = [[name] + [_cell(res.get(t.id, {})) for t in tasks]
            for name, res in rows]
    body.append(["gesta peak RSS (MB)"] + [
        "%.0f" % (gesta[t.id]["peak_rss"] / 1e6) for t in tasks])
    out.append(_table(["peer"] + heads, body))

    out.append("\n## Ratios: gesta / peer (above 1: gesta is faster)\n")
    ratio_rows, best = [], [None] * len(tasks)
    for name, res in rows[1:]:
        row = [name]
        for i, t in enumerate(tasks):
            r, g = res.get(t.id, {}), gesta[t.id]
            if r.get("status") == "ok" and r["median_per_s"] > 0:
                row.append("%.2f×" % (g["median_per_s"] / r["median_per_s"]))
                if not name.startswith("gesta") and (
                        best[i] is None or r["median_per_s"] > best[i][1]):
                    best[i] = (name, r["median_per_s"])
            else:
                row.append("—")
        ratio_rows.append(row)
    ratio_rows.append(["**best peer**"] + [
        "%.2f× (%s)" % (gesta[t.id]["median_per_s"] / b[1], b[0]) if b else "—"
        for t, b in zip(tasks, best)])
    named = dict(rows)
    g_cl, cv_cl = named.get("gesta (OpenCL)"), named.get("OpenCV DNN (OpenCL)")
    if g_cl and cv_cl:
        row = ["gesta (OpenCL) / OpenCV DNN (OpenCL)"]
        for t in tasks:
            a, b = g_cl.get(t.id, {}), cv_cl.get(t.id, {})
            ok = a.get("status") == "ok" and b.get("status") == "ok"
            row.append("%.2f×" % (a["median_per_s"] / b["median_per_s"])
                       if ok and b["median_per_s"] > 0 else "—")
        ratio_rows.append(row)
    out.append(_table(["peer"] + heads, ratio_rows))

    out.append("\n## Output checks: largest |peer − gesta| on the same "
               "input (tolerance %.0e)\n" % args.tolerance)
    check_rows = []
    for name, res in rows[1:]:
        if name.startswith("gesta"):
            continue
        row = [name]
        for t in tasks:
            r = res.get(t.id, {})
            row.append("%.1e" % r["max_diff"] if r.get("max_diff") is not None
                       else "—")
        check_rows.append(row)
    if check_rows:
        out.append(_table(["peer"] + labels, check_rows))

    out.append("\n## Environment\n")
    coretype = env0["coretype"]
    lines = [
        "date: %s" % env0["date"],
        "CPU: %s, %s logical CPUs; %s" % (env0["cpu"], env0["cpus"],
                                          env0["kernel"]),
        "load average (1, 5, 15 min): %s before, %s after" % (env0["load"],
                                                              env1["load"]),
        "threads: %d for everyone (gesta --threads and OPENBLAS_NUM_THREADS; "
        "torch.set_num_threads, 1 inter-op; ONNX Runtime intra-op, 1 "
        "inter-op, sequential; cv2.setNumThreads; TensorFlow intra-op, 1 "
        "inter-op; OMP/OpenBLAS/MKL_NUM_THREADS in every peer's "
        "environment)" % args.threads,
        "OPENBLAS_CORETYPE: %s" % ("set to %s" % coretype if coretype
                                   else "not set"),
        "OpenBLAS: %s" % env0["openblas"],
        "gesta: %s" % env0["gesta"],
        "Python: %s" % env0["python"],
    ]
    for name, v in sorted(versions.items()):
        lines.append("%s: %s" % (name, v))
    for name, rss in peak.items():
        lines.append("peak RSS of the %s process (every model and batch): "
                     "%.0f MB" % (name, rss / 1e6))
    out.append("".join("- %s\n" % l for l in lines))
    out.append(
        "\nInputs are seeded uniform [0, 1) batches (training: random "
        "one-hot targets); each peer's output is checked against `gesta "
        "run --backend cpu` on that input before it is timed. gesta's "
        "figures come from `gesta bench --json` (`--train` for training), "
        "which times its own seeded uniform [0, 1) input of the same shape. "
        "Training steps are forward in training mode, loss, backward and "
        "an Adam step (lr 1e-3, epsilon 1e-7); the peers' dropout masks "
        "differ from gesta's, so only the inference-mode output is "
        "compared.\n")
    out.append("\nCommand: `tools/bench-peers %s`\n" % " ".join(
        sys.argv[1:]))
    return "\n".join(out)
