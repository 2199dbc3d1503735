#!/usr/bin/env bash
# gesta train end to end on tiny models and a tiny synthetic dataset: the
# run folder's files, bit-exact reruns and resumes (after a clean stop, a
# Ctrl-C mid-epoch and a SIGKILL), a per-frame model, flat memory across
# epochs, augmentation and a learning-rate warm-up, and the errors: a run
# folder in use, a resume with another batch size or model, a loss that
# turns NaN, a checkpoint that cannot be written (the file size limit
# stands in for a full disk).
# Usage: bash test_train.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
CLASSES="[LowerArms, RaiseArms, SitDown, StandUp, WalkLeft, WalkRight]"
PP="channels: bgr, scale: 0.00392156862745098, sampling: uniform"

expect_rc 0 "train --help" "$GESTA" train --help
expect_output "Usage: gesta train" "--help shows the synopsis"
expect_rc 2 "train without arguments" "$GESTA" train
expect_output "missing MODEL.yaml" "says what is missing"

if ! "$GESTA" synth -n 2 -g 2 --no-progress "$TMP/data" >"$TMP/synth.out" 2>&1; then
  if grep -q "built without GStreamer" "$TMP/synth.out"; then
    ok "this gesta has no GStreamer: the rest is skipped"
    echo "train: $failures failure(s)"
    [ $failures -eq 0 ]
    exit
  fi
  fail "gesta synth:"
  cat "$TMP/synth.out"
fi

# tiny: a clip model (conv, pool, dropout, LSTM); mid: the same, slow
# enough to interrupt; lin: a per-frame model of three linear layers that
# diverges with plain SGD at lr 0.2.
cat >"$TMP/tiny.yaml" <<YAML
gesta: 1
name: tiny
classes: $CLASSES
input: {name: frames, shape: [4, 16, 16, 3]}
preprocess: {size: [16, 16], $PP, frames: 4}
weights: tiny.safetensors
layers:
  - {name: conv1, op: conv2d, filters: 4, kernel: [3, 3], padding: same, activation: relu, time_distributed: true}
  - {name: pool1, op: max_pool2d, pool_size: [4, 4], time_distributed: true}
  - {name: drop1, op: dropout, rate: 0.25, time_distributed: true}
  - {name: flatten, op: flatten, time_distributed: true}
  - {name: lstm, op: lstm, units: 8}
  - {name: out, op: dense, units: 6, activation: softmax}
YAML
sed -e 's/name: tiny/name: tiny2/' -e 's/units: 8}/units: 9}/' "$TMP/tiny.yaml" >"$TMP/tiny2.yaml"
sed -e 's/16, 16/8, 8/g' "$TMP/tiny.yaml" >"$TMP/tiny8.yaml"
cat >"$TMP/mid.yaml" <<YAML
gesta: 1
name: mid
classes: $CLASSES
input: {name: frames, shape: [4, 16, 16, 3]}
preprocess: {size: [16, 16], $PP, frames: 4}
weights: mid.safetensors
layers:
  - {name: conv1, op: conv2d, filters: 32, kernel: [3, 3], padding: same, activation: relu, time_distributed: true}
  - {name: conv2, op: conv2d, filters: 64, kernel: [3, 3], padding: same, activation: relu, time_distributed: true}
  - {name: pool1, op: max_pool2d, pool_size: [4, 4], time_distributed: true}
  - {name: drop1, op: dropout, rate: 0.25, time_distributed: true}
  - {name: flatten, op: flatten, time_distributed: true}
  - {name: lstm, op: lstm, units: 8}
  - {name: out, op: dense, units: 6, activation: softmax}
YAML
cat >"$TMP/lin.yaml" <<YAML
gesta: 1
name: lin
classes: $CLASSES
input: {name: frame, shape: [16, 16, 3]}
preprocess: {size: [16, 16], $PP, frames: 4}
layers:
  - {name: flatten, op: flatten}
  - {name: fc1, op: dense, units: 16}
  - {name: fc2, op: dense, units: 16}
  - {name: out, op: dense, units: 6, activation: softmax}
YAML
# One cache serves the three: the same preprocessing.
"$GESTA" dataset build "$TMP/data" -m "$TMP/tiny.yaml" -o "$TMP/clips" --no-progress >/dev/null 2>&1 ||
  fail "dataset build"
T="-b cpu --threads 1 --batch-size 1"

echo "== a short run and its folder"
expect_rc 0 "train tiny, 3 epochs" "$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/r1" --epochs 3 $T
expect_output "Epoch 3/3 - " "an epoch summary per epoch"
expect_output "val_accuracy: " "the summary has validation metrics"
for f in checkpoint.safetensors best.safetensors history.csv history.json model.yaml tiny.safetensors; do
  [ -f "$TMP/r1/$f" ] && ok "run folder has $f" || fail "run folder lacks $f"
done
head -1 "$TMP/r1/history.csv" | grep -qx "epoch,loss,accuracy,val_loss,val_accuracy,time_s,lr" &&
  ok "history.csv header" || fail "history.csv header: $(head -1 "$TMP/r1/history.csv")"
[ "$(wc -l <"$TMP/r1/history.csv")" -eq 4 ] && ok "history.csv: a row per epoch" || fail "history.csv rows"
$PY - "$TMP/r1/history.json" <<'PYEOF' && ok "history.json: model, epochs, best_epoch, monitor" || fail "history.json"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["model"] == "tiny" and h["monitor"] == "val_loss"
assert [e["epoch"] for e in h["epochs"]] == [1, 2, 3]
assert 1 <= h["best_epoch"] <= 3
for e in h["epochs"]:
    assert set(e) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "time_s", "lr"}
PYEOF
expect_rc 0 "predict with the run's model.yaml" "$GESTA" predict -b cpu "$TMP/r1/model.yaml" "$TMP/data/SitDown/v_SitDown_g01_c01.avi"
expect_output "Action Predicted:" "the trained weights load for prediction"

echo "== bit-exact: rerun, and resume after a clean stop"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/r2" --epochs 3 $T >/dev/null 2>&1
cmp -s "$TMP/r1/tiny.safetensors" "$TMP/r2/tiny.safetensors" && ok "same seed, same weights" || fail "a rerun gave other weights"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/r3" --epochs 1 $T >/dev/null 2>&1
expect_rc 0 "resume to 3 epochs" "$GESTA" train --resume "$TMP/r3" --epochs 3 -b cpu
expect_output "continuing after epoch 1" "says where it continues"
cmp -s "$TMP/r1/tiny.safetensors" "$TMP/r3/tiny.safetensors" && ok "resumed run: same weights" || fail "resumed run: other weights"
cmp -s "$TMP/r1/history.csv" "$TMP/r3/history.csv" ||
  diff <(cut -d, -f1-5 "$TMP/r1/history.csv") <(cut -d, -f1-5 "$TMP/r3/history.csv") >/dev/null &&
  ok "resumed run: same history" || fail "resumed run: other history"

echo "== --augment: seeded, resumable, and it changes what is learnt"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/ra1" --epochs 3 --augment $T >/dev/null 2>&1
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/ra2" --epochs 3 --augment $T >/dev/null 2>&1
cmp -s "$TMP/ra1/tiny.safetensors" "$TMP/ra2/tiny.safetensors" && ok "--augment: same seed, same weights" ||
  fail "--augment: a rerun gave other weights"
cmp -s "$TMP/r1/tiny.safetensors" "$TMP/ra1/tiny.safetensors" && fail "--augment changed nothing" ||
  ok "--augment: other weights than without it"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/deep/runs/ra3" --epochs 1 --augment $T >/dev/null 2>&1
[ -f "$TMP/deep/runs/ra3/checkpoint.safetensors" ] && ok "-o creates missing parent folders" ||
  fail "-o a/b/c: no run folder"
# No -b: the resume goes on where the run trained (the CPU), not on the
# default OpenCL device.
expect_rc 0 "resume an augmented run without --backend" "$GESTA" train --resume "$TMP/deep/runs/ra3" --epochs 3
expect_output "on cpu" "the resume remembers the backend"
cmp -s "$TMP/ra1/tiny.safetensors" "$TMP/deep/runs/ra3/tiny.safetensors" &&
  ok "--augment resumed: the uninterrupted run's weights" || fail "--augment resumed: other weights"
expect_rc 2 "resume a plain run with --augment" "$GESTA" train --resume "$TMP/r1" --augment --epochs 4 -b cpu
expect_output "started without --augment" "says the run had no augmentation"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rz1" --epochs 2 --augment-zoom 0.3 --augment-noise 0.1 $T >/dev/null 2>&1
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rz2" --epochs 1 --augment-zoom 0.3 --augment-noise 0.1 $T >/dev/null 2>&1
expect_rc 0 "resume a zoom and grain run" "$GESTA" train --resume "$TMP/rz2" --epochs 2
cmp -s "$TMP/rz1/tiny.safetensors" "$TMP/rz2/tiny.safetensors" &&
  ok "--augment-zoom/--augment-noise resumed: the uninterrupted run's weights" || fail "zoom/grain resumed: other weights"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rz3" --epochs 2 --augment $T >/dev/null 2>&1
cmp -s "$TMP/rz1/tiny.safetensors" "$TMP/rz3/tiny.safetensors" && fail "--augment-zoom/--augment-noise changed nothing" ||
  ok "--augment-zoom/--augment-noise: other weights than --augment alone"
expect_rc 2 "resume with another --augment-zoom" "$GESTA" train --resume "$TMP/rz1" --augment-zoom 0.2 --epochs 3
expect_output "--augment-zoom" "names the option that differs"
expect_rc 2 "--augment-noise out of range" "$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rz4" --augment-noise 2 $T
expect_output "from 0 to 0.5" "says the range"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rt1" --epochs 2 --augment-time 2 $T >/dev/null 2>&1
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rt2" --epochs 1 --augment-time 2 $T >/dev/null 2>&1
expect_rc 0 "resume a run with --augment-time" "$GESTA" train --resume "$TMP/rt2" --epochs 2
cmp -s "$TMP/rt1/tiny.safetensors" "$TMP/rt2/tiny.safetensors" &&
  ok "--augment-time resumed: the uninterrupted run's weights" || fail "--augment-time resumed: other weights"
cmp -s "$TMP/rt1/tiny.safetensors" "$TMP/rz3/tiny.safetensors" && fail "--augment-time changed nothing" ||
  ok "--augment-time: other weights than --augment alone"
expect_rc 2 "resume with another --augment-time" "$GESTA" train --resume "$TMP/rt1" --augment-time 3 --epochs 3
expect_output "--augment-time" "names the option that differs"
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rm1" --epochs 2 --mirror-swap WalkLeft:WalkRight $T >/dev/null 2>&1
"$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rm2" --epochs 1 --mirror-swap WalkLeft:WalkRight $T >/dev/null 2>&1
expect_rc 0 "resume a run with --mirror-swap" "$GESTA" train --resume "$TMP/rm2" --epochs 2
cmp -s "$TMP/rm1/tiny.safetensors" "$TMP/rm2/tiny.safetensors" &&
  ok "--mirror-swap resumed: the uninterrupted run's weights" || fail "--mirror-swap resumed: other weights"
cmp -s "$TMP/rm1/tiny.safetensors" "$TMP/rz3/tiny.safetensors" && fail "--mirror-swap changed nothing" ||
  ok "--mirror-swap: other weights than --augment alone"
expect_rc 2 "resume with another --mirror-swap" "$GESTA" train --resume "$TMP/rm1" --mirror-swap SitDown:StandUp --epochs 3
expect_output "--mirror-swap WalkLeft:WalkRight" "names the option and the run's pairs"
expect_rc 2 "--mirror-swap with an unknown class" "$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/rm3" --mirror-swap WalkLeft:Jump $T
expect_output "'Jump' is not one of tiny's classes" "names the class"

echo "== --reduce-lr: the learning rate drops on a plateau, and a resume keeps it"
# Patience 1: every epoch whose val_loss is not the best so far halves the
# rate (this tiny model's val_loss only gets worse after epoch 1).
R="--reduce-lr 0.5 --lr-patience 1 --lr 0.05 --optimizer sgd"
expect_rc 0 "train with --reduce-lr" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/lr1" --epochs 6 $R $T
$PY - "$TMP/lr1/history.json" <<'PYEOF' && ok "history: the rate halves after each epoch without improvement" || fail "history lr column"
import json, sys
h = json.load(open(sys.argv[1]))["epochs"]
best, lr = float("inf"), 0.05
for e in h:
    assert abs(e["lr"] - lr) < 1e-12, (e, lr)
    if e["val_loss"] < best:
        best = e["val_loss"]
    else:
        lr /= 2
assert h[-1]["lr"] < 0.05, "the rate never dropped"
PYEOF
"$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/lr2" --epochs 3 $R $T >/dev/null 2>&1
expect_output "learning rate now 0.025" "says when the rate drops"
expect_rc 0 "resume a --reduce-lr run" "$GESTA" train --resume "$TMP/lr2" --epochs 6
cmp -s "$TMP/lr1/weights.safetensors" "$TMP/lr2/weights.safetensors" &&
  ok "--reduce-lr resumed: the uninterrupted run's weights" || fail "--reduce-lr resumed: other weights"
echo "== --warmup: the rate rises step by step, no plateau lowers it before, a resume keeps it"
W="--warmup 3 $R"
expect_rc 0 "train with --warmup" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/wu1" --epochs 6 $W $T
$PY - "$TMP/wu1/history.json" <<'PYEOF' && ok "history: lr/3, 2lr/3, lr, then halved on plateaus" || fail "history lr column with --warmup"
import json, sys
h = json.load(open(sys.argv[1]))["epochs"]
for e, want in zip(h, [0.05 / 3, 0.1 / 3, 0.05]):
    assert abs(e["lr"] - want) < 1e-12, (e, want)
best, lr = float("inf"), 0.05
for e in h:
    assert abs(e["lr"] - lr) < 1e-12 or e["epoch"] <= 3, (e, lr)
    if e["val_loss"] < best:
        best = e["val_loss"]
    elif e["epoch"] > 3:
        lr /= 2
assert h[-1]["lr"] < 0.05, "the rate never dropped after the warm-up"
PYEOF
"$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/wu2" --epochs 2 $W $T >/dev/null 2>&1
expect_rc 0 "resume a run in its warm-up" "$GESTA" train --resume "$TMP/wu2" --epochs 6
cmp -s "$TMP/wu1/weights.safetensors" "$TMP/wu2/weights.safetensors" &&
  ok "--warmup resumed: the uninterrupted run's weights" || fail "--warmup resumed: other weights"
expect_rc 2 "resume with another --warmup" "$GESTA" train --resume "$TMP/wu1" --warmup 2 --epochs 7
expect_output "--warmup 3" "names the run's warm-up"
expect_rc 2 "--reduce-lr 1.5" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/lr3" --reduce-lr 1.5 $T
expect_output "between 0 and 1" "says what a factor is"

echo "== Ctrl-C mid-epoch and SIGKILL, then --resume"
"$GESTA" train "$TMP/mid.yaml" "$TMP/clips" -o "$TMP/m0" --epochs 20 $T >/dev/null 2>&1
for sig in INT KILL; do
  "$GESTA" train "$TMP/mid.yaml" "$TMP/clips" -o "$TMP/m$sig" --epochs 20 $T --log-every 1 >"$TMP/m$sig.out" 2>&1 &
  pid=$!
  # Wait for the second batch of epoch 2, so a checkpoint exists.
  for _ in $(seq 200); do grep -q "epoch 2/20 batch 2/" "$TMP/m$sig.out" && break; sleep 0.02; done
  kill -$sig $pid
  { wait $pid; } 2>/dev/null
  rc=$?
  if [ $sig = INT ]; then
    [ $rc -eq 130 ] && ok "Ctrl-C: exit 130" || fail "Ctrl-C: exit $rc"
    grep -q "interrupted: checkpoint saved" "$TMP/m$sig.out" && ok "Ctrl-C: says the checkpoint is saved" ||
      { fail "Ctrl-C message:"; cat "$TMP/m$sig.out"; }
  fi
  # SIGKILL during a write may leave a temporary file (never read); the
  # checkpoint itself is whole either way, as the resume shows.
  [ $sig = KILL ] || { ls "$TMP/m$sig" | grep -q "\.tmp\." && fail "$sig left a temporary file" ||
    ok "$sig: no temporary file left"; }
  expect_rc 0 "resume after $sig" "$GESTA" train --resume "$TMP/m$sig" -b cpu
  cmp -s "$TMP/m0/mid.safetensors" "$TMP/m$sig/mid.safetensors" &&
    ok "after $sig and --resume: the uninterrupted run's weights" || fail "after $sig: other weights"
done

echo "== a per-frame model, and memory across epochs"
expect_rc 0 "train a per-frame model" env ASAN_OPTIONS=quarantine_size_mb=0 \
  "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/l1" --epochs 8 -b cpu --threads 1 -v
expect_output "(single frames, 4 per clip)" "trains on single frames, all of each clip"
grep -o "VmRSS [0-9]* kB" "$TMP/last.out" | awk '{print $2}' >"$TMP/rss"
first=$(sed -n 2p "$TMP/rss") last=$(tail -1 "$TMP/rss")
if ldd "$GESTA" 2>/dev/null | grep -q libasan; then
  ok "memory check skipped: AddressSanitizer's allocator holds on to freed memory"
elif [ -n "$first" ] && [ $((last - first)) -le 256 ]; then
  ok "memory flat from epoch 2 to 8 (${first} -> ${last} kB)"
else
  fail "memory grew from epoch 2 to 8: ${first:-?} -> ${last:-?} kB"
fi

echo "== a per-frame model on some frames per clip and epoch"
expect_rc 0 "--frames-per-clip 2" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/f1" --epochs 2 \
  --frames-per-clip 2 $T
expect_output "(single frames, 2 per clip)" "says how many frames a clip gives"
clips=$(sed -n 's/.*: \([0-9]*\) training and.*/\1/p' "$TMP/last.out")
steps=$(sed -n 's/.* \([0-9]*\) steps per epoch.*/\1/p' "$TMP/last.out")
[ -n "$clips" ] && [ "$steps" = $((clips * 2)) ] && ok "an epoch is 2 frames per clip ($steps steps, batch 1)" ||
  fail "steps per epoch: ${steps:-?} for ${clips:-?} clips"
"$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/f2" --epochs 1 --frames-per-clip 2 $T >/dev/null 2>&1
expect_rc 0 "resume it" "$GESTA" train --resume "$TMP/f2" --epochs 2
cmp -s "$TMP/f1/weights.safetensors" "$TMP/f2/weights.safetensors" &&
  ok "--frames-per-clip resumed: the uninterrupted run's weights" || fail "--frames-per-clip resumed: other weights"
expect_rc 2 "resume with other --frames-per-clip" "$GESTA" train --resume "$TMP/f2" --frames-per-clip 3 --epochs 3
expect_output "started with --frames-per-clip 2" "names the run's value"
expect_rc 2 "--frames-per-clip on a clip model" "$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/f3" \
  --frames-per-clip 2 $T
expect_output "for per-frame models" "says it is for per-frame models"

echo "== --validation-by-group: whole looks validate"
"$GESTA" synth -n 4 -g 4 --no-progress "$TMP/data4" >/dev/null 2>&1 &&
  "$GESTA" dataset build "$TMP/data4" -m "$TMP/lin.yaml" -o "$TMP/clips4" --no-progress >/dev/null 2>&1 ||
  fail "synth or dataset build for 4 groups"
# Groups 2-4 train (18 clips): 0.2 of the clips is 4, 0.2 of the groups is
# one group of 6 clips.
expect_rc 0 "validation per clip" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips4" -o "$TMP/g1" --epochs 1 \
  --validation-split 0.2 $T
expect_output "14 training and 4 validation clips" "per clip: 4 of 18 clips validate"
expect_rc 0 "--validation-by-group" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips4" -o "$TMP/g2" --epochs 1 \
  --validation-split 0.2 --validation-by-group $T
expect_output "12 training and 6 validation clips" "by group: one look of 6 clips validates"
expect_rc 2 "resume a per-clip run with --validation-by-group" "$GESTA" train --resume "$TMP/g1" \
  --validation-by-group --epochs 2
expect_output "started with --validation-by-group off" "names the run's split"
expect_rc 0 "--validation-by-group without groups in the names" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" \
  -o "$TMP/g3" --epochs 1 --validation-by-group $T
expect_output "carry no groups" "falls back to clips with a warning"

echo "== bad input"
expect_rc 2 "a run folder in use" "$GESTA" train "$TMP/tiny.yaml" "$TMP/clips" -o "$TMP/r1" -b cpu
expect_output "already holds a run" "says to resume or --force"
expect_rc 2 "resume with another batch size" "$GESTA" train --resume "$TMP/r1" --batch-size 2 --epochs 4 -b cpu
expect_output "started with --batch-size 1" "names the run's batch size"
expect_rc 2 "resume with another model" "$GESTA" train --resume "$TMP/r1" "$TMP/tiny2.yaml" --epochs 4 -b cpu
expect_output "layers or shapes differ" "a checkpoint from another model is refused"
expect_rc 2 "resume a folder without a run" "$GESTA" train --resume "$TMP/nothing" -b cpu
expect_output "nothing to resume" "says there is no checkpoint"
expect_rc 2 "a cache for another model" "$GESTA" train "$TMP/tiny8.yaml" "$TMP/clips" -o "$TMP/x1" -b cpu
expect_output "rebuild the cache" "says to rebuild"

expect_rc 2 "a loss that turns NaN" "$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/nan" --epochs 5 \
  -b cpu --threads 1 --batch-size 2 --optimizer sgd --lr 0.2
expect_output "the loss is NaN" "says the loss is NaN"
expect_output "the last good checkpoint (epoch 1)" "points at the last good checkpoint"
expect_rc 2 "the kept checkpoint resumes" "$GESTA" train --resume "$TMP/nan" -b cpu
expect_output "continuing after epoch 1" "the epoch-1 checkpoint is intact"

"$GESTA" train "$TMP/lin.yaml" "$TMP/clips" -o "$TMP/full" --epochs 1 -b cpu --threads 1 >/dev/null 2>&1
cp "$TMP/full/checkpoint.safetensors" "$TMP/full.before"
# 100 KiB: room for the history and the weights, not for the checkpoint.
expect_rc 2 "a checkpoint that cannot be written" \
  bash -c "trap '' XFSZ; ulimit -f 100; exec \"\$0\" train --resume \"\$1\" --epochs 2 -b cpu" "$GESTA" "$TMP/full"
expect_output "cannot save the checkpoint (the previous one, if any, is kept)" "says the previous checkpoint is kept"
cmp -s "$TMP/full/checkpoint.safetensors" "$TMP/full.before" && ok "the previous checkpoint survives" ||
  fail "the previous checkpoint changed"
ls "$TMP/full" | grep -q "\.tmp\." && fail "a temporary file was left" || ok "no temporary file left"

echo "train: $failures failure(s)"
[ $failures -eq 0 ]
