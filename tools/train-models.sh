#!/usr/bin/env bash
# Reproduces the bundled models (models/lrcn.safetensors, models/cnn.safetensors)
# and the numbers in docs/results.md: writes the synthetic dataset, caches
# it, trains the seed's LRCN and CNN on the CPU reference, evaluates both on
# the test split and draws the training curves. Everything is seeded, so the
# same machine gives the same weights bit for bit (OpenBLAS results depend on
# the thread count: keep --threads as recorded).
#
# Usage: tools/train-models.sh [--threads N] [--work DIR] [--ship]
#   --threads N  OpenBLAS threads for training (default 2, as recorded)
#   --work DIR   where the dataset, caches and runs go (default build/train-models)
#   --ship       copy the trained weights into models/ and the figures into
#                docs/results/ at the end
# GESTA=path/to/gesta uses an existing binary instead of building build/gesta.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=2
WORK=build/train-models
SHIP=0
while [ $# -gt 0 ]; do
  case $1 in
    --threads) THREADS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --ship) SHIP=1; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train-models.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# The settings behind docs/results.md. The dataset is gesta synth's default
# (96 looks of one clip per class); --augment draws every training clip with
# a random look on top, which is what makes the LRCN recognise looks it
# never saw, and the rate drops on long plateaus (10 epochs: after 5, the
# LRCN's noisy val_loss cut the rate before it had learnt). Its run ends at
# the 90-epoch limit: keep it, the best epoch depends on it. The per-frame
# CNN learns from 5 frames per clip and epoch in batches of 32 frames (batch
# normalisation over 4 frames of different looks is too noisy to learn
# from).
SYNTH_SEED=0
TRAIN_SEED=0
VAL_SPLIT=0.15
LRCN_EPOCHS=90
LRCN_PATIENCE=25
CNN_EPOCHS=60
CNN_PATIENCE=15
CNN_FRAMES_PER_CLIP=5
CNN_BATCH=32

START=$(date +%s)
step() {
  printf '\n$ %s\n' "$*"
  local t0
  t0=$(date +%s)
  "$@"
  printf '(%ss)\n' "$(($(date +%s) - t0))"
}

if [ -z "${GESTA:-}" ]; then
  step cmake -S . -B build -DGESTA_TESTS=OFF
  step cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
  GESTA=build/gesta
fi

mkdir -p "$WORK/runs"
DATA=$WORK/synth
step "$GESTA" synth "$DATA" --seed "$SYNTH_SEED" --force --no-progress
for m in lrcn cnn; do
  step "$GESTA" dataset build "$DATA" -m "models/$m.yaml" -o "$WORK/$m.gcc" --no-progress
done

train() {
  local m=$1 epochs=$2 patience=$3
  shift 3
  step "$GESTA" train "models/$m.yaml" "$WORK/$m.gcc" -o "$WORK/runs/$m" --force \
    --epochs "$epochs" --early-stopping --patience "$patience" \
    --validation-split "$VAL_SPLIT" --seed "$TRAIN_SEED" --threads "$THREADS" \
    --backend cpu --log-every 50 "$@"
}
train lrcn "$LRCN_EPOCHS" "$LRCN_PATIENCE" --augment --reduce-lr 0.2 --lr-patience 10 \
  --augment-time 8
train cnn "$CNN_EPOCHS" "$CNN_PATIENCE" --frames-per-clip "$CNN_FRAMES_PER_CLIP" \
  --batch-size "$CNN_BATCH"

for m in lrcn cnn; do
  RUN=$WORK/runs/$m
  step "$GESTA" eval "$RUN/model.yaml" "$WORK/$m.gcc" --split test --backend cpu \
    --heatmap "$RUN/confusion.png"
  "$GESTA" eval "$RUN/model.yaml" "$WORK/$m.gcc" --split test --backend cpu --json >"$RUN/eval.json"
  step "$GESTA" plot "$RUN"
done

if [ "$SHIP" = 1 ]; then
  mkdir -p docs/results
  for m in lrcn cnn; do
    RUN=$WORK/runs/$m
    step cp "$RUN/$m.safetensors" "models/$m.safetensors"
    for f in loss accuracy confusion; do
      step cp "$RUN/$f.png" "docs/results/$m-$f.png"
    done
  done
fi

printf '\nDone in %s s. Runs, histories, evaluations and figures are in %s/runs.\n' \
  "$(($(date +%s) - START))" "$WORK"
