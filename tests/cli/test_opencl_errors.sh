#!/usr/bin/env bash
# OpenCL errors a user can act on: a batch too big for the device names the
# size, the device and what to do; a kernel that fails to build names the
# program, the layer and the device and quotes the build log's first error
# (--verbose shows the whole log). Tiny models, so it stays fast.
# Usage: bash test_opencl_errors.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

"$GESTA" devices >"$TMP/probe.out" 2>&1
if grep -qE "built without OpenCL|no OpenCL platform" "$TMP/probe.out"; then
  echo "test_opencl_errors: no OpenCL device here; nothing to check"
  exit 0
fi
# The first non-simulator device (Oclgrind would be slow for nothing).
DEV=$(awk '/^ [ *] [0-9]+:[0-9]+ / && !/Oclgrind/ {print $2; exit}' \
  "$TMP/probe.out")
[ -n "$DEV" ] || DEV=$(awk '/^ [ *] [0-9]+:[0-9]+ / {print $2; exit}' \
  "$TMP/probe.out")
if [ -z "$DEV" ]; then
  fail "no device index in gesta devices' output:"
  cat "$TMP/probe.out"
  echo "test_opencl_errors: $failures failure(s)"
  exit 1
fi

# A 1x1 convolution to 4096 filters: 1 MiB of output per 8x8 frame, so the
# largest batch gesta run takes wants 64 GiB in one buffer, more than any
# device allows, while the input stays small on the host.
cat >"$TMP/wide.yaml" <<'EOF'
gesta: 1
name: wide
input: {name: x, shape: [8, 8, 3]}
layers:
  - {name: widen, op: conv2d, filters: 4096, kernel: 1}
EOF
"$GESTA" init "$TMP/wide.yaml" -o "$TMP/wide.safetensors" -q >/dev/null ||
  fail "gesta init wide.yaml"
expect_rc 1 "a batch too big for the device fails" \
  "$GESTA" run "$TMP/wide.yaml" --weights "$TMP/wide.safetensors" \
  --random-input 65536 --backend opencl --device "$DEV"
expect_output "64.00 GiB" "out of memory: names the size"
expect_output ", $DEV)" "out of memory: names the device"
expect_output "smaller batch" "out of memory: says what to do"
expect_output "layer 'widen'" "out of memory: names the tensor"
if grep -q "Segmentation\|Abort\|AddressSanitizer" "$TMP/last.out"; then
  fail "out of memory: a clean error, not a crash"
fi

# A relu kernel that does not compile, through GESTA_CL_SOURCE_DIR.
cat >"$TMP/act.yaml" <<'EOF'
gesta: 1
name: act
input: {name: x, shape: [5]}
layers:
  - {name: act, op: relu}
EOF
mkdir -p "$TMP/cl/relu"
cat >"$TMP/cl/relu/relu.cl" <<'EOF'
__kernel void relu_forward(__global float *x) { x[0] = not_declared; }
EOF
"$GESTA" init "$TMP/act.yaml" -o "$TMP/act.safetensors" -q >/dev/null ||
  fail "gesta init act.yaml"
GESTA_CL_SOURCE_DIR="$TMP/cl" expect_rc 1 "a kernel that does not build fails" \
  "$GESTA" run "$TMP/act.yaml" --weights "$TMP/act.safetensors" \
  --random-input 1 --backend opencl --device "$DEV" --no-kernel-cache
expect_output "cannot build OpenCL program 'relu'" "build failure: names the op"
expect_output "layer 'act' (relu)" "build failure: names the layer"
expect_output ", $DEV)" "build failure: names the device"
expect_output "not_declared" "build failure: quotes the first error"
GESTA_CL_SOURCE_DIR="$TMP/cl" expect_rc 1 "--verbose: the same failure" \
  "$GESTA" run "$TMP/act.yaml" --weights "$TMP/act.safetensors" \
  --random-input 1 --backend opencl --device "$DEV" --no-kernel-cache -v
expect_output "build log:" "--verbose shows the build log"
expect_output "relu/relu.cl" "the build log names the file"

echo "test_opencl_errors: $failures failure(s)"
[ $failures -eq 0 ]
