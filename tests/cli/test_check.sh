#!/usr/bin/env bash
# gesta check on PoCL: both seed models agree with the CPU reference, the
# JSON report parses, the verdict is recorded for gesta devices, and a
# deliberately broken kernel (GESTA_CL_SOURCE_DIR) fails the check with the
# broken op named as the first divergence. Oclgrind is left out: whole
# models are far too slow in a simulator (the op table covers it).
# Usage: bash test_check.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
POCL="Portable Computing Language" # PoCL's platform name

"$GESTA" check "$SRC/models/seed/cnn.yaml" --devices "$POCL" >"$TMP/probe.out" 2>&1
if grep -qE "built without OpenCL|no OpenCL device" "$TMP/probe.out"; then
  echo "skip: no PoCL device here:"
  cat "$TMP/probe.out"
  exit 77 # ctest reports it as skipped
fi

expect_rc 0 "cnn agrees on PoCL" \
  "$GESTA" check "$SRC/models/seed/cnn.yaml" --devices "$POCL" --batch 1
expect_output "1 device(s) checked: 1 passed, 0 failed" "cnn: one device passed"
expect_output "seeded random" "cnn: says its weights are seeded random"

expect_rc 0 "lrcn agrees on PoCL, JSON report" \
  "$GESTA" check "$SRC/models/seed/lrcn.yaml" --devices "$POCL" --batch 1 \
  --json "$TMP/lrcn.json"
expect_output "model output after a whole run" "lrcn: whole-model line"
if $PY - "$TMP/lrcn.json" <<'PYEOF'; then
import json, sys
r = json.load(open(sys.argv[1]))
assert r["passed"] is True and r["model"] == "lrcn" and r["batch"] == 1, r
d = r["devices"][0]
assert d["passed"] and d["first_divergence"] is None, d
assert len(d["layers"]) == 13, len(d["layers"])
for l in d["layers"]:
    assert l["alone"]["pass"] and l["in_model"]["pass"], l
    assert l["alone"]["rel"] <= l["tolerance"], l
    assert not l["fallback"], l
assert d["output"]["rel"] <= r["tolerances"]["model"] <= 1e-5, d["output"]
PYEOF
  ok "lrcn JSON: valid, 13 layers, all within tolerance"
else
  fail "lrcn JSON report"
fi

# The GPU path (im2col + CLBlast): the LRCN's conv2 im2col matrix (47 MB)
# spans two 32 MB tiles, the second starting mid-frame.
GESTA_OPENCL_CONV=gemm expect_rc 0 "lrcn agrees on PoCL through im2col + GEMM" \
  "$GESTA" check "$SRC/models/seed/lrcn.yaml" --devices "$POCL" --batch 1

results="${XDG_CACHE_HOME:-$HOME/.cache}/gesta/check-results.json"
if $PY - "$results" <<'PYEOF'; then
import json, sys
r = json.load(open(sys.argv[1]))
pocl = [d for d in r["devices"].values() if d["platform"] == "Portable Computing Language"]
assert pocl and pocl[0]["models"]["lrcn"]["passed"] is True, r
PYEOF
  ok "the pass is recorded next to the kernel cache"
else
  fail "no PoCL lrcn pass in $results"
fi

# A tiny model with a standalone relu (the seed models fuse theirs into
# conv2d, whose kernel is another one).
cat >"$TMP/tiny.yaml" <<'YAML'
gesta: 1
name: tiny-relu
input: {name: x, shape: [6, 6, 3]}
layers:
  - {name: conv, op: conv2d, filters: 4, kernel: 3}
  - {name: act, op: relu}
  - {name: flat, op: flatten}
  - {name: out, op: dense, units: 3, activation: softmax}
YAML
mkdir -p "$TMP/cl/relu"
for f in "$SRC"/ops/relu/*.cl; do
  sed 's/gesta_activate(\(.*\), GESTA_ACTIVATION_RELU)/1.01f * gesta_activate(\1, GESTA_ACTIVATION_RELU)/' \
    "$f" >"$TMP/cl/relu/$(basename "$f")"
done
if cmp -s "$SRC/ops/relu/relu.cl" "$TMP/cl/relu/relu.cl"; then
  fail "could not break the relu kernel (its source changed?)"
fi
recorded_before=$(cksum <"$results" 2>/dev/null)
GESTA_CL_SOURCE_DIR="$TMP/cl" expect_rc 1 "a broken relu kernel fails the check" \
  "$GESTA" check "$TMP/tiny.yaml" --devices "$POCL" --seed 3 --json "$TMP/broken.json"
expect_output "FIRST DIVERGENCE" "the report names a first divergence"
expect_output "layer 'act' (relu)" "... and it is the relu layer"
expect_output "--layer act" "... with a command to rerun just that layer"
if $PY -c "
import json, sys
d = json.load(open(sys.argv[1]))['devices'][0]
assert not d['passed'] and d['first_divergence']['op'] == 'relu', d
assert [l['layer'] for l in d['layers'] if not l['alone']['pass']] == ['act'], d
" "$TMP/broken.json"; then
  ok "broken JSON: relu is the only layer failing alone"
else
  fail "broken JSON report"
fi
GESTA_CL_SOURCE_DIR="$TMP/cl" expect_rc 1 "the rerun command reproduces it" \
  "$GESTA" check "$TMP/tiny.yaml" --devices "$POCL" --seed 3 --layer act
expect_output "layer 'act' (relu)" "the rerun names relu again"
if [ "$(cksum <"$results" 2>/dev/null)" != "$recorded_before" ]; then
  fail "a check with GESTA_CL_SOURCE_DIR was recorded"
else
  ok "a check with replaced kernels is not recorded"
fi
GESTA_CL_SOURCE_DIR="$TMP/cl" expect_rc 0 "looser tolerances (--tolerance) accept it" \
  "$GESTA" check "$TMP/tiny.yaml" --devices "$POCL" --seed 3 \
  --tolerance relu=0.1,model=0.1
expect_rc 0 "the shipped relu kernel passes the same check" \
  "$GESTA" check "$TMP/tiny.yaml" --devices "$POCL" --seed 3

expect_rc 2 "an unknown device is bad usage" \
  "$GESTA" check "$TMP/tiny.yaml" --devices no-such-device
expect_output "no OpenCL device matches 'no-such-device'" "... and says so"
expect_rc 2 "a bad tolerance is bad usage" \
  "$GESTA" check "$TMP/tiny.yaml" --tolerance relu=lots
expect_rc 2 "an unknown op in --tolerance is bad usage" \
  "$GESTA" check "$TMP/tiny.yaml" --tolerance rleu=1e-3
expect_rc 2 "an unknown --layer is bad input" \
  "$GESTA" check "$TMP/tiny.yaml" --devices "$POCL" --layer nope

echo "test_check: $failures failure(s)"
[ $failures -eq 0 ]
