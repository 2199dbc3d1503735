#!/usr/bin/env bash
# gesta bench --train and tools/bench-peers as smoke tests with tiny
# counts: the training step is timed and prints clips/s; the peer benchmark
# writes its table with OpenCV DNN (or says why it cannot run) and reports
# a peer whose module is missing (TensorFlow, hidden here) as not
# available. Speed itself is never asserted.
# Usage: bash test_bench_peers.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

expect_rc 0 "bench --train on the CPU" \
  "$GESTA" bench "$SRC/models/lrcn.yaml" --backend cpu --train -k 1 \
  --warmup 0 --threads 2
expect_output "clips/s" "bench --train prints clips/s"
expect_output "batch 4" "bench --train defaults to batch 4"

expect_rc 2 "bench --threads 0 is a usage error" \
  "$GESTA" bench "$SRC/models/cnn.yaml" --train --threads 0

if [ ! -x "$PY" ] || ! "$PY" -c "import cv2, numpy, yaml" 2>/dev/null; then
  echo "test_bench_peers: tools/bench-peers needs $PY with cv2, numpy and yaml"
  [ $failures -eq 0 ] || exit 1
  exit 77 # ctest reports it as skipped
fi

# A tensorflow module that cannot be imported: the Keras peer must be
# reported as not available, never left out.
mkdir -p "$TMP/hide"
echo 'raise ImportError("hidden by the test")' >"$TMP/hide/tensorflow.py"
expect_rc 0 "bench-peers --quick" \
  env PYTHONPATH="$TMP/hide" "$PY" "$SRC/tools/bench-peers" --quick \
  --venv none --models cnn --peers opencv,keras --gesta "$GESTA" \
  --output "$TMP/peers.md"
expect_output "| gesta (CPU) |" "the table has gesta's row"
expect_output "| OpenCV DNN (CPU) |" "the table has OpenCV's row"
expect_output "Ratios: gesta / peer" "the ratios come out"
expect_output "OPENBLAS_CORETYPE:" "the environment comes out"
if grep -F "| TensorFlow/Keras" "$TMP/last.out" |
  grep -qF "not available: hidden by the test"; then
  ok "a missing peer is reported as not available"
else
  fail "no 'not available' for the hidden TensorFlow in:"
  cat "$TMP/last.out"
fi
sed -n '/^# gesta and its peers/,$p' "$TMP/last.out" |
  grep -v '^bench-peers: ' >"$TMP/printed.md"
if cmp -s "$TMP/printed.md" "$TMP/peers.md"; then
  ok "--output holds the report"
else
  fail "--output differs from the printed report"
fi

echo "test_bench_peers: $failures failure(s)"
[ $failures -eq 0 ]
