#!/usr/bin/env bash
# gesta devices and device specs: the list (text and JSON), choosing PoCL by
# name, a spec that matches nothing, and a machine with no platform at all.
# Usage: bash test_devices.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

if ! "$GESTA" devices --help >/dev/null 2>&1; then
  echo "test_devices: this gesta has no OpenCL backend; nothing to check"
  exit 77 # ctest reports it as skipped
fi

expect_rc 0 "devices" "$GESTA" devices
expect_output "Portable Computing Language" "devices: lists PoCL"
expect_output "*" "devices: marks the default"
expect_rc 0 "devices --json" "$GESTA" devices --json
if $PY -c 'import json,sys; d=json.load(sys.stdin); assert d' <"$TMP/last.out" 2>/dev/null; then
  ok "devices --json parses"
else
  fail "devices --json is not JSON:"
  cat "$TMP/last.out"
fi

M="$SRC/models/cnn.yaml"
"$GESTA" init "$M" -o "$TMP/w.safetensors" >/dev/null
expect_rc 0 "run --device pocl" "$GESTA" run "$M" --weights "$TMP/w.safetensors" --random-input 1 --device pocl
expect_output "backend: opencl" "run --device pocl: runs on OpenCL"
expect_rc 2 "run --device nope" "$GESTA" run "$M" --weights "$TMP/w.safetensors" --random-input 1 --device nope
expect_output "no OpenCL device matches 'nope'" "run --device nope: says so and lists devices"

# A passing check is remembered per device and driver and shown by devices.
export XDG_CACHE_HOME="$TMP/cache"
expect_rc 0 "devices before any check" "$GESTA" devices
expect_output "gesta check: not run with this driver" "devices: no check recorded yet"
# With the fresh cache above, PoCL compiles every kernel in this process;
# LeakSanitizer's exit-time tracer then crashes now and then ("Tracer
# caught signal 11", no leak reported) while stopping PoCL's compiler
# threads. Leaks of gesta check itself are covered by cli.check, which
# runs it with leak detection on.
expect_rc 0 "check cnn on pocl" env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  "$GESTA" check "$M" --devices pocl --batch 1
expect_rc 0 "devices after the check" "$GESTA" devices
expect_output "gesta check: passed (cnn" "devices: shows the passed check"

mkdir -p "$TMP/no-icd"
expect_rc 0 "devices without any platform" env OCL_ICD_VENDORS="$TMP/no-icd" "$GESTA" devices
expect_output "no OpenCL platform found" "devices: says there is no platform"

echo "test_devices: $failures failure(s)"
[ $failures -eq 0 ]
