#!/usr/bin/env bash
# gesta eval on a tiny synthetic dataset (gesta synth -n 2 -g 2: 12 videos,
# 6 of them in the test list) with random weights: the text report, the
# JSON (validated and its metrics recomputed from its own confusion matrix
# in Python), the PNG heatmap, splits, a per-frame model with a partial
# last batch, a clip cache giving the same numbers as the folder, and bad
# input with its exit code and message.
# Usage: bash test_eval.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

if "$GESTA" synth --help 2>&1 | grep -q "without GStreamer" ||
  "$GESTA" eval "$SRC/models/lrcn.yaml" "$TMP" --heatmap x.png 2>&1 | grep -q "GESTA_GSTREAMER=OFF"; then
  echo "skipped: gesta built without GStreamer (needed for dataset folders and heatmaps)"
  exit 77 # ctest reports it as skipped
fi

"$GESTA" synth -q -n 2 -g 2 "$TMP/data" >/dev/null 2>&1 || fail "gesta synth"
# The bundled models with the synthetic dataset's six classes.
CLASSES="[LowerArms, RaiseArms, SitDown, StandUp, WalkLeft, WalkRight]"
for m in lrcn cnn; do
  sed -e "s/^classes: .*/classes: $CLASSES/" -e 's/units: 5,/units: 6,/' \
    -e '/^weights:/d' "$SRC/models/$m.yaml" >"$TMP/$m.yaml"
  "$GESTA" init "$TMP/$m.yaml" -o "$TMP/$m.safetensors" --seed 1 >/dev/null ||
    fail "gesta init $m"
done
E=("$GESTA" eval "$TMP/lrcn.yaml" --weights "$TMP/lrcn.safetensors" --backend cpu)

expect_rc 0 "eval a dataset folder" "${E[@]}" "$TMP/data"
expect_output "split test (trainlist01.txt/testlist01.txt): 6 clips" "the test list's six clips"
if grep -qE '^loss: [0-9]+\.[0-9]{4} - accuracy: [01]\.[0-9]{4} \([0-6]/6\)$' "$TMP/last.out"; then
  ok "loss and accuracy line"
else
  fail "loss and accuracy line:"; cat "$TMP/last.out"
fi
expect_output "precision     recall   f1-score    support" "the classification report's header"
expect_output "macro avg" "macro average"
expect_output "weighted avg" "weighted average"
expect_output "Confusion matrix (rows: true class, columns: predicted class):" "the matrix's title"
[ "$(grep -cE '^[1-6] (LowerArms|RaiseArms|SitDown|StandUp|WalkLeft|WalkRight) +( +[0-9]+){6}$' "$TMP/last.out")" = 6 ] &&
  ok "six matrix rows of six counts" || { fail "matrix rows"; cat "$TMP/last.out"; }

# --json: one valid object whose metrics follow from its own matrix.
check_json() { # check_json FILE SAMPLES
  $PY - "$1" "$2" <<'PYEOF'
import json, math, sys
o = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
cm = o["confusion_matrix"]
k = len(o["classes"])
assert k == 6 and len(cm) == k and all(len(r) == k for r in cm), cm
assert o["samples"] == n == sum(map(sum, cm)), (o["samples"], n)
assert o["correct"] == sum(cm[i][i] for i in range(k))
assert abs(o["accuracy"] - o["correct"] / n) < 1e-12
# Random weights: near-uniform probabilities, so a loss near ln 6.
assert math.isfinite(o["loss"]) and 1.0 < o["loss"] < 3.0, o["loss"]
present = 0
sums = [0.0, 0.0, 0.0]
for c, m in enumerate(o["per_class"]):
    tp = cm[c][c]
    pred = sum(cm[r][c] for r in range(k))
    sup = sum(cm[c])
    p = tp / pred if pred else 0.0  # scikit-learn's zero_division=0
    r = tp / sup if sup else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    assert m["class"] == o["classes"][c]
    assert (m["support"], m["predicted"]) == (sup, pred), m
    assert abs(m["precision"] - p) < 1e-12 and abs(m["recall"] - r) < 1e-12 and abs(m["f1"] - f) < 1e-12, m
    if sup or pred:
        present += 1
        sums = [sums[0] + p, sums[1] + r, sums[2] + f]
macro = o["macro_avg"]
assert macro["classes"] == present
for key, s in zip(("precision", "recall", "f1"), sums):
    assert abs(macro[key] - s / present) < 1e-12, (key, macro[key])
assert abs(o["weighted_avg"]["recall"] - o["accuracy"]) < 1e-12
for key in ("model", "weights", "data", "data_kind", "split", "device", "time_s", "skipped"):
    assert key in o, key
print("json ok:", o["samples"], "samples, loss %.4f" % o["loss"])
PYEOF
}
expect_rc 0 "--json" "${E[@]}" "$TMP/data" --json
cp "$TMP/last.out" "$TMP/folder.json"
if check_json "$TMP/folder.json" 6 >"$TMP/check.out" 2>&1; then ok "JSON valid, metrics match its matrix"; else fail "JSON:"; cat "$TMP/check.out" "$TMP/folder.json"; fi

# --threads: one thread gives the numbers of the default count.
expect_rc 0 "--threads 1 --json" "${E[@]}" "$TMP/data" --json --threads 1
$PY - "$TMP/folder.json" "$TMP/last.out" <<'PYEOF' && ok "--threads 1: the same confusion matrix and accuracy" || fail "--threads 1 differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["confusion_matrix"] == b["confusion_matrix"] and a["accuracy"] == b["accuracy"]
assert abs(a["loss"] - b["loss"]) <= 1e-5 * max(1.0, abs(a["loss"]))
PYEOF
expect_rc 2 "--threads 0" "${E[@]}" "$TMP/data" --threads 0

# --heatmap: a valid PNG.
expect_rc 0 "--heatmap" "${E[@]}" "$TMP/data" --heatmap "$TMP/cm.png"
if $PY - "$TMP/cm.png" <<'PYEOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR" and d[-8:-4] == b"IEND"
w, h = struct.unpack(">II", d[16:24])
assert 300 <= w <= 2000 and 300 <= h <= 2000, (w, h)
PYEOF
then ok "heatmap is a valid PNG"; else fail "heatmap PNG"; fi

expect_rc 0 "--split all" "${E[@]}" "$TMP/data" --split all --json
check_json "$TMP/last.out" 12 >/dev/null 2>&1 && ok "--split all: 12 clips" || fail "--split all"
expect_rc 0 "--split train, batch 4 (a partial last batch)" "${E[@]}" "$TMP/data" --split train --batch 4
expect_output "split train (trainlist01.txt/testlist01.txt): 6 clips" "the train list's six clips"

# A clip cache gives the folder's numbers; a per-frame model on it.
if "$GESTA" dataset build "$TMP/data" -m "$TMP/lrcn.yaml" -o "$TMP/data.gcc" >/dev/null 2>&1; then
  expect_rc 0 "eval a clip cache" "${E[@]}" "$TMP/data.gcc" --json
  if $PY - "$TMP/folder.json" "$TMP/last.out" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["confusion_matrix"] == b["confusion_matrix"], (a["confusion_matrix"], b["confusion_matrix"])
assert abs(a["loss"] - b["loss"]) < 1e-6, (a["loss"], b["loss"])
assert b["data_kind"] == "cache"
PYEOF
  then ok "cache and folder agree"; else fail "cache and folder differ"; fi
  expect_rc 0 "per-frame model on the cache, batch 4" "$GESTA" eval "$TMP/cnn.yaml" "$TMP/data.gcc" \
    --weights "$TMP/cnn.safetensors" --backend cpu --batch 4 --json
  check_json "$TMP/last.out" 6 >/dev/null 2>&1 && ok "per-frame model: JSON valid" || { fail "per-frame JSON"; cat "$TMP/last.out"; }
  expect_rc 2 "--split val of a cache without one" "${E[@]}" "$TMP/data.gcc" --split val
  expect_output "has no clips in the val split (train 6, val 0, test 6)" "says which splits there are"
else
  fail "gesta dataset build"
fi

# An unreadable video is skipped with a warning, as dataset build does.
cp -r "$TMP/data" "$TMP/broken"
echo "not a video" >"$TMP/broken/SitDown/v_SitDown_g01_c01.avi"
expect_rc 0 "a broken video is skipped" "${E[@]}" "$TMP/broken"
expect_output "skipped:" "warns about it"
expect_output "5 clips, 1 skipped" "counts it"

# Bad input: exit 2 and a message that says what to do.
expect_rc 2 "missing data" "${E[@]}" "$TMP/no-such-data"
expect_output "does not exist" "missing data: says so"
expect_rc 2 "model and dataset classes differ" "$GESTA" eval "$SRC/models/seed/lrcn.yaml" "$TMP/data" \
  --weights "$TMP/lrcn.safetensors" --backend cpu
expect_output "has 5 classes [ApplyLipstick, BabyCrawling" "names the model's classes"
expect_output "has 6 [LowerArms, RaiseArms" "names the dataset's classes"
if [ -f "$TMP/data.gcc" ]; then
  expect_rc 2 "cache for another model's classes" "$GESTA" eval "$SRC/models/seed/lrcn.yaml" "$TMP/data.gcc" \
    --weights "$TMP/lrcn.safetensors" --backend cpu
fi
head -c 4096 /dev/urandom >"$TMP/garbage.gcc"
expect_rc 2 "a file that is not a cache" "${E[@]}" "$TMP/garbage.gcc"
expect_output "garbage.gcc" "names the file"
expect_rc 2 "no weights" "$GESTA" eval "$TMP/lrcn.yaml" "$TMP/data" --backend cpu
expect_output "declares no weights file" "says there are no weights"
expect_rc 2 "--split val of a folder" "${E[@]}" "$TMP/data" --split val
expect_output "a dataset folder has no val split" "explains why"
expect_rc 2 "bad --split" "${E[@]}" "$TMP/data" --split dev
expect_output "--split wants test, val, train or all" "lists the splits"
expect_rc 2 "bad --batch" "${E[@]}" "$TMP/data" --batch 0
expect_rc 2 "missing DATA" "${E[@]}"
expect_output "missing DATA" "says DATA is missing"
mkdir -p "$TMP/nolist/Walk"
expect_rc 2 "a dataset with no videos" "${E[@]}" "$TMP/nolist"

echo "eval: $failures failure(s)"
[ $failures -eq 0 ]
