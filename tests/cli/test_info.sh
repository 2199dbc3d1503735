#!/usr/bin/env bash
# gesta info: Keras' parameter totals for the seed models, the JSON form,
# the op list, and a broken model file reported with its position.
# Usage: bash test_info.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
# expect_line FILE TEXT WHAT: FILE has a line containing TEXT exactly.
expect_line() {
  if grep -qF -- "$2" "$1"; then ok "$3"; else fail "$3 (no '$2' in:)"; cat "$1"; fi
}

echo "== gesta info models/seed/cnn.yaml (the seed's five UCF101 classes)"
"$GESTA" info "$SRC/models/seed/cnn.yaml" >"$TMP/cnn.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "cnn: exit 0" || fail "cnn: exit $rc"
expect_line "$TMP/cnn.txt" "Total params: 57,925" "cnn: Total params: 57,925"
expect_line "$TMP/cnn.txt" "Trainable params: 57,285" "cnn: Trainable params: 57,285"
expect_line "$TMP/cnn.txt" "Non-trainable params: 640" "cnn: Non-trainable params: 640"
expect_line "$TMP/cnn.txt" "(None, 62, 62, 64)" "cnn: first conv output (None, 62, 62, 64)"
expect_line "$TMP/cnn.txt" "ApplyLipstick, BabyCrawling, CricketBowling, MilitaryParade, PlayingGuitar" \
  "cnn: the seed's five classes"

echo "== gesta info models/seed/lrcn.yaml"
"$GESTA" info "$SRC/models/seed/lrcn.yaml" >"$TMP/lrcn.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "lrcn: exit 0" || fail "lrcn: exit $rc"
expect_line "$TMP/lrcn.txt" "Total params: 195,973 (765.52 KB)" "lrcn: Total params: 195,973 (765.52 KB)"
expect_line "$TMP/lrcn.txt" "Trainable params: 195,973" "lrcn: Trainable params: 195,973"
expect_line "$TMP/lrcn.txt" "Non-trainable params: 0" "lrcn: Non-trainable params: 0"
expect_line "$TMP/lrcn.txt" "(None, 20, 1024)" "lrcn: flatten output (None, 20, 1024)"
expect_line "$TMP/lrcn.txt" "135,296" "lrcn: LSTM has 135,296 params"

echo "== the bundled models: the synthetic dataset's six classes"
# Only the output layer differs from the seed's: 32*6+6 and 256*6+6 weights.
"$GESTA" info "$SRC/models/lrcn.yaml" >"$TMP/lrcn6.txt" 2>&1 || fail "lrcn (6 classes): exit $?"
expect_line "$TMP/lrcn6.txt" "Total params: 196,006" "lrcn (6 classes): Total params: 196,006"
expect_line "$TMP/lrcn6.txt" "LowerArms, RaiseArms, SitDown, StandUp, WalkLeft, WalkRight" "lrcn: the six classes"
"$GESTA" info "$SRC/models/cnn.yaml" >"$TMP/cnn6.txt" 2>&1 || fail "cnn (6 classes): exit $?"
expect_line "$TMP/cnn6.txt" "Total params: 58,182" "cnn (6 classes): Total params: 58,182"
expect_line "$TMP/cnn6.txt" "Non-trainable params: 640" "cnn (6 classes): Non-trainable params: 640"

echo "== gesta info --json"
for model in cnn lrcn; do
  "$GESTA" info --json "$SRC/models/seed/$model.yaml" >"$TMP/$model.json" 2>"$TMP/$model.err"
  rc=$?
  [ $rc -eq 0 ] && ok "$model --json: exit 0" || fail "$model --json: exit $rc"
  if $PY -c 'import json,sys; json.load(sys.stdin)' <"$TMP/$model.json"; then
    ok "$model --json parses"
  else
    fail "$model --json does not parse"
  fi
done
if $PY - "$TMP/cnn.json" "$TMP/lrcn.json" <<'PYEOF'; then
import json, sys
cnn = json.load(open(sys.argv[1]))
lrcn = json.load(open(sys.argv[2]))
assert (cnn["total_params"], cnn["trainable_params"], cnn["non_trainable_params"]) == (57925, 57285, 640), cnn
assert lrcn["total_params"] == 195973, lrcn["total_params"]
assert lrcn["input"] == {"name": "frames", "shape": [None, 20, 64, 64, 3]}, lrcn["input"]
assert lrcn["layers"][-1]["output_shape"] == [None, 5]
assert sum(l["params"] for l in lrcn["layers"]) == 195973
assert len(lrcn["classes"]) == 5
PYEOF
  ok "--json totals, input and layers agree"
else
  fail "--json content"
fi

echo "== gesta info --ops"
"$GESTA" info --ops >"$TMP/ops.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "--ops: exit 0" || fail "--ops: exit $rc"
for dir in "$SRC"/ops/*/; do
  op=$(basename "$dir")
  [ -f "$dir/op.c" ] || continue
  if grep -q "^$op: " "$TMP/ops.txt"; then ok "--ops lists $op"; else fail "--ops lacks $op"; fi
done
"$GESTA" info --ops --json | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["ops"]' \
  && ok "--ops --json parses" || fail "--ops --json"

echo "== a broken model file"
cat >"$TMP/bad.yaml" <<'YAML'
gesta: 1
name: bad
input: {name: x, shape: [8]}
layers:
  - {name: fc, op: dense, unit: 4}
YAML
"$GESTA" info "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "invalid model: exit 2" || fail "invalid model: exit $rc (want 2)"
if grep -qE 'bad\.yaml:[0-9]+:[0-9]+: ' "$TMP/bad.out"; then
  ok "invalid model: message has file:line:col"
else
  fail "invalid model: no file:line:col in:"
  cat "$TMP/bad.out"
fi
grep -q "^gesta: error: " "$TMP/bad.out" && ok "invalid model: 'gesta: error:' prefix" \
  || fail "invalid model: no 'gesta: error:' prefix"

printf '{unclosed: [1, 2\n' >"$TMP/syntax.yaml"
"$GESTA" info "$TMP/syntax.yaml" >"$TMP/syntax.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "YAML syntax error: exit 2" || fail "YAML syntax error: exit $rc (want 2)"
grep -qE 'syntax\.yaml:[0-9]+:[0-9]+: ' "$TMP/syntax.out" && ok "YAML syntax error: file:line:col" \
  || { fail "YAML syntax error: no file:line:col in:"; cat "$TMP/syntax.out"; }

"$GESTA" info "$TMP/does-not-exist.yaml" >"$TMP/missing.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "missing model file: exit 2" || fail "missing model file: exit $rc (want 2)"

echo "test_info: $failures failure(s)"
[ $failures -eq 0 ]
