#!/usr/bin/env bash
# The README's first command: installs what gesta needs (Debian packages),
# builds it in build/ and shows what it does today on the seed's LRCN model.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

GESTA=build/gesta
step() {
  printf '\n$ %s\n' "$*"
  "$@"
}

step "$GESTA" info models/lrcn.yaml
step "$GESTA" init models/lrcn.yaml -o build/lrcn-random.safetensors --seed 1
echo
echo "Note: build/lrcn-random.safetensors holds untrained random weights, so the"
echo "probabilities below are close to uniform and the predicted class means nothing."
echo "Trained weights come with training; predicting on a bundled video arrives with"
echo "the video pipeline."
step "$GESTA" run models/lrcn.yaml --weights build/lrcn-random.safetensors --random-input 2
echo
echo "Done. The CLI is build/gesta; 'build/gesta --help' lists its commands."
