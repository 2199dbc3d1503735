#!/usr/bin/env bash
# gesta bench on the CPU and (when there is one) an OpenCL device: tiny
# iteration counts, the JSON report parses and every time is positive; on
# OpenCL the per-layer times are device times from profiling events.
# Speed itself is never asserted.
# Usage: bash test_bench.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

check_json() { # FILE WHAT RATE_KEY
  if $PY - "$1" "$3" <<'PYEOF'; then
import json, sys
r = json.load(open(sys.argv[1]))
f = r["forward_ms"]
assert 0 < f["min"] <= f["median"] <= f["max"], f
assert r[sys.argv[2]] > 0, r
assert r["startup_ms"]["first"] > 0, r
if r["backend"] == "opencl":
    assert r["startup_ms"]["from_source"] > 0 and r["startup_ms"]["from_cache"] > 0, r
if r["backend"] == "opencl":
    # Device times from profiling events, nothing waited for per layer.
    assert r["layer_times"] == "device", r
    assert r["layer_times_include_sync"] is False, r
    d = r["device_ms"]
    assert d["forward"] > 0 and 0 < d["busy"], d
    assert 0 <= d["gemm"] <= d["busy"] and d["gemm_calls"] > 0, d
    assert all(0 <= l["gemm_ms"] <= l["median_ms"] + 1e-9
               for l in r["layers"]), r["layers"]
    assert sum(l["median_ms"] for l in r["layers"]) > 0, r["layers"]
else:
    assert r["layer_times"] == "wall", r
    assert r["layer_times_include_sync"] is True
assert r["layers"] and all(l["median_ms"] >= 0 for l in r["layers"]), r["layers"]
PYEOF
    ok "$2: JSON valid, times positive"
  else
    fail "$2: JSON report"
    cat "$1"
  fi
}

expect_rc 0 "cnn on the CPU, table" \
  "$GESTA" bench "$SRC/models/cnn.yaml" --backend cpu -k 2 --warmup 0
expect_output "frames/s" "cnn: frames per second"
expect_output "per layer" "cnn: per-layer table"
"$GESTA" bench "$SRC/models/lrcn.yaml" --backend cpu -k 2 --warmup 1 --json \
  >"$TMP/lrcn-cpu.json" 2>"$TMP/err" || fail "lrcn bench on the CPU"
check_json "$TMP/lrcn-cpu.json" "lrcn on the CPU" clips_per_s

if "$GESTA" bench "$SRC/models/cnn.yaml" --backend opencl -k 2 --warmup 0 \
  --batch 2 --json >"$TMP/cnn-cl.json" 2>"$TMP/err"; then
  check_json "$TMP/cnn-cl.json" "cnn on OpenCL, batch 2" frames_per_s
  expect_rc 0 "lrcn on OpenCL, table" \
    "$GESTA" bench "$SRC/models/lrcn.yaml" --backend opencl -k 1 --warmup 0
  expect_output "CLBlast GEMMs" "lrcn on OpenCL: GEMM share of the forward"
  expect_output "device time" "lrcn on OpenCL: per-layer device times"
elif grep -qE "without OpenCL|no OpenCL platform" "$TMP/err"; then
  echo "skip: no OpenCL device here"
else
  fail "cnn bench on OpenCL:"
  cat "$TMP/err"
fi

expect_rc 2 "--iterations 0 is bad usage" \
  "$GESTA" bench "$SRC/models/cnn.yaml" --iterations 0
expect_rc 2 "an unknown backend is bad usage" \
  "$GESTA" bench "$SRC/models/cnn.yaml" --backend tpu

echo "test_bench: $failures failure(s)"
[ $failures -eq 0 ]
