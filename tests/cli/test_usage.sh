#!/usr/bin/env bash
# The command line itself: --help on every subcommand, --version, and bad
# usage (unknown command or option, missing argument) with exit code 2.
# Usage: bash test_usage.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

echo "== gesta --help / --version"
expect_rc 0 "gesta --help" "$GESTA" --help
for cmd in info init run; do expect_output "$cmd" "gesta --help lists $cmd"; done
expect_rc 0 "gesta --version" "$GESTA" --version
if grep -qE '^gesta [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/last.out"; then ok "--version prints 'gesta X.Y.Z'"; else
  fail "--version output:"
  cat "$TMP/last.out"
fi
expect_rc 2 "gesta with no command" "$GESTA"
expect_rc 2 "unknown command" "$GESTA" frobnicate
expect_output "unknown command 'frobnicate'" "unknown command is named"
expect_rc 2 "unknown option before the command" "$GESTA" --frobnicate

echo "== --help on every subcommand"
check_help() {
  local cmd=$1 opt
  shift
  expect_rc 0 "gesta $cmd --help" "$GESTA" "$cmd" --help
  expect_output "Usage: gesta $cmd" "$cmd --help shows the usage"
  expect_output "Example" "$cmd --help shows an example"
  expect_output "Exit codes" "$cmd --help lists the exit codes"
  for opt in "$@" --verbose --quiet --help; do expect_output "$opt" "$cmd --help mentions $opt"; done
}
check_help info --json --ops
check_help init --output --seed --force
check_help run --input --random-input --weights --seed --output --save-input --backend --json

echo "== bad usage exits 2"
M=$SRC/models/lrcn.yaml
for cmd in info init run; do
  expect_rc 2 "$cmd with an unknown option" "$GESTA" "$cmd" --no-such-option "$M"
  expect_output "Usage: gesta $cmd" "$cmd: unknown option shows the usage"
  expect_rc 2 "$cmd without a model" "$GESTA" "$cmd"
  expect_output "missing MODEL.yaml" "$cmd: says the model is missing"
done
expect_rc 2 "info with two models" "$GESTA" info "$M" "$M"
expect_rc 2 "init without -o" "$GESTA" init "$M"
expect_output "missing -o" "init: says -o is missing"
expect_rc 2 "init --seed abc" "$GESTA" init "$M" -o "$TMP/w.safetensors" --seed abc
expect_rc 2 "init --seed -1" "$GESTA" init "$M" -o "$TMP/w.safetensors" --seed -1
expect_rc 2 "init -o without a value" "$GESTA" init "$M" -o
expect_rc 2 "run without an input" "$GESTA" run "$M"
expect_output "--random-input" "run: names the input options"
expect_rc 2 "run with --input and --random-input" "$GESTA" run "$M" --input x.safetensors --random-input 1
expect_rc 2 "run --random-input 0" "$GESTA" run "$M" --random-input 0
expect_rc 2 "run --random-input x" "$GESTA" run "$M" --random-input x
expect_rc 2 "run --backend foo" "$GESTA" run "$M" --random-input 1 --backend foo
expect_output "cpu, opencl" "run: lists the backends"
mkdir -p "$TMP/no-icd"
"$GESTA" init "$M" -o "$TMP/w.safetensors" >/dev/null
expect_rc 2 "run --backend opencl without a platform" env OCL_ICD_VENDORS="$TMP/no-icd" "$GESTA" run "$M" --weights "$TMP/w.safetensors" --random-input 1 --backend opencl
expect_output "no OpenCL platform was found" "run: says OpenCL is missing"

echo "test_usage: $failures failure(s)"
[ $failures -eq 0 ]
