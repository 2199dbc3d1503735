#!/usr/bin/env bash
# gesta tune on PoCL: bad usage is refused before any work, a small tuning
# run reports CLBlast's own and the tuned GEMM times, and when it keeps a
# tuning the file holds the three kernels and the next command applies it.
# One candidate per kernel: each is a CLBlast compile, seconds on PoCL.
# Usage: bash test_tune.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
POCL="Portable Computing Language"
export XDG_CACHE_HOME="$TMP/cache"

expect_rc 0 "--help" "$GESTA" tune --help
expect_output "XgemmDirect" "--help names the kernels it tunes"
expect_rc 2 "no model" "$GESTA" tune
expect_output "missing MODEL.yaml" "... says the model is missing"
expect_rc 2 "--backend cpu" "$GESTA" tune "$SRC/models/lrcn.yaml" --backend cpu
expect_output "--backend must be opencl" "... says OpenCL is needed"
expect_rc 2 "--no-kernel-cache without --dry-run" \
  "$GESTA" tune "$SRC/models/lrcn.yaml" --no-kernel-cache
expect_output "add --dry-run" "... says what to do"
expect_rc 2 "--max-candidates -1" "$GESTA" tune "$SRC/models/lrcn.yaml" -m -1
expect_rc 2 "a missing model file" "$GESTA" tune "$TMP/none.yaml" --device "$POCL"

"$GESTA" devices >"$TMP/devices.out" 2>&1
if ! grep -q "Portable Computing Language" "$TMP/devices.out"; then
  echo "skip: no PoCL device here"
  exit 77
fi

# On PoCL a convolution runs as the direct kernel: no GEMM to tune.
cat >"$TMP/conv.yaml" <<'YAML'
gesta: 1
name: conv-only
input: {name: x, shape: [8, 8, 3]}
layers:
  - {name: conv, op: conv2d, filters: 4, kernel: 3, activation: relu}
YAML
expect_rc 2 "a model without GEMMs" "$GESTA" tune "$TMP/conv.yaml" --device "$POCL" -q
expect_output "nothing to tune" "... says there is nothing to tune"

cat >"$TMP/mlp.yaml" <<'YAML'
gesta: 1
name: one-dense
input: {name: x, shape: [64]}
layers:
  - {name: out, op: dense, units: 6, activation: softmax}
YAML
expect_rc 0 "tune a small model on PoCL" \
  "$GESTA" tune "$TMP/mlp.yaml" --device "$POCL" --batch 8 -m 1 -k 1 -q
expect_output "CLBlast's own parameters: GEMMs" "baseline GEMM time"
expect_output "Xgemm: 1 of " "one Xgemm set tried"
expect_output "XgemmDirect: 1 of " "one XgemmDirect set tried"
expect_output "tuned: GEMMs" "tuned GEMM time"
tune=$(ls "$XDG_CACHE_HOME"/gesta/kernels/clblast-*.tune 2>/dev/null | head -1)
if grep -q "^written: " "$TMP/last.out"; then
  if [ -n "$tune" ] && grep -q "^Xgemm .*MWG=" "$tune" &&
    grep -q "^XgemmDirect .*WGD=" "$tune" &&
    grep -q "^GemmRoutine XGEMM_MIN_INDIRECT_SIZE=" "$tune"; then
    ok "the tuning file holds Xgemm, XgemmDirect and the switch"
  else
    fail "tuning file ${tune:-missing}"
  fi
  "$GESTA" init "$TMP/mlp.yaml" -o "$TMP/mlp.safetensors" -q
  expect_rc 0 "a run on the tuned device" \
    "$GESTA" run "$TMP/mlp.yaml" --weights "$TMP/mlp.safetensors" \
    --device "$POCL" --random-input 2 -v
  expect_output "CLBlast tuning for" "... applies the tuning"
  expect_rc 0 "gesta devices" "$GESTA" devices
  expect_output "CLBlast tuning: $tune" "gesta devices names the tuning file"
else
  expect_output "not written: CLBlast's own parameters were as fast" \
    "nothing kept, and it says why"
  [ -z "$tune" ] && ok "no tuning file" || fail "a tuning file was kept: $tune"
  expect_rc 0 "gesta devices" "$GESTA" devices
  expect_output "CLBlast tuning: CLBlast's own" "gesta devices says there is none"
fi
echo "test_tune: $failures failure(s)"
[ $failures -eq 0 ]
