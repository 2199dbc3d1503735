#!/usr/bin/env bash
# gesta init + gesta run end to end: output shapes, softmax rows, replaying
# a saved input, and the errors a user meets (wrong shape, no weights, no
# model), each with exit code 2.
# Usage: bash test_run.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

# A safetensors reader in plain Python (struct + json), independent of gesta.
cat >"$TMP/st.py" <<'PYEOF'
import json, struct, sys

def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        data = raw[8 + n + a:8 + n + b]
        out[name] = (tuple(info["shape"]), struct.unpack("<%df" % (len(data) // 4), data))
    return out

def check_softmax(path, name, shape):
    t = load(path)
    assert list(t) == [name], "tensors %s, want [%s]" % (list(t), name)
    got, values = t[name]
    assert got == shape, "shape %s, want %s" % (got, shape)
    per = len(values) // shape[0]
    for i in range(shape[0]):
        row = values[i * per:(i + 1) * per]
        assert all(0.0 <= v <= 1.0 for v in row), row
        assert abs(sum(row) - 1.0) < 1e-5, "row %d sums to %r" % (i, sum(row))
    print("%s: %s %s, every row sums to 1" % (path, name, got))

def same(a, b):
    ta, tb = load(a), load(b)
    assert ta == tb, "%s and %s differ" % (a, b)
    print("%s == %s" % (a, b))

if __name__ == "__main__":
    if sys.argv[1] == "softmax":
        check_softmax(sys.argv[2], sys.argv[3], tuple(int(x) for x in sys.argv[4].split(",")))
    elif sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3])
PYEOF

echo "== LRCN: init, then run on a random batch of 2"
W=$TMP/lrcn-random.safetensors
expect_rc 0 "init lrcn" "$GESTA" init "$SRC/models/seed/lrcn.yaml" -o "$W" --seed 1
[ -s "$W" ] && ok "init wrote $W" || fail "init wrote nothing"
expect_rc 0 "run lrcn --random-input 2" "$GESTA" run "$SRC/models/seed/lrcn.yaml" --weights "$W" \
  --random-input 2 --seed 7 -o "$TMP/out.safetensors" --save-input "$TMP/in.safetensors"
expect_output "(2, 5)" "run prints the output shape (2, 5)"
$PY "$TMP/st.py" softmax "$TMP/out.safetensors" out 2,5 && ok "output (2, 5), rows sum to 1" \
  || fail "LRCN output file"

echo "== replaying the saved input gives the same output"
expect_rc 0 "run lrcn --input" "$GESTA" run "$SRC/models/seed/lrcn.yaml" --weights "$W" \
  --input "$TMP/in.safetensors" -o "$TMP/out2.safetensors"
$PY "$TMP/st.py" same "$TMP/out.safetensors" "$TMP/out2.safetensors" && ok "identical output" \
  || fail "replayed output differs"

echo "== --json"
"$GESTA" run "$SRC/models/seed/lrcn.yaml" --weights "$W" --random-input 2 --seed 7 --json >"$TMP/run.json"
if $PY - "$TMP/run.json" "$TMP/st.py" "$TMP/out.safetensors" <<'PYEOF'; then
import json, sys, runpy
st = runpy.run_path(sys.argv[2])
d = json.load(open(sys.argv[1]))
assert d["output"]["shape"] == [2, 5], d["output"]
_, values = st["load"](sys.argv[3])["out"]
for i, s in enumerate(d["samples"]):
    assert abs(sum(s["values"]) - 1) < 1e-5
    classes = ["ApplyLipstick", "BabyCrawling", "CricketBowling", "MilitaryParade", "PlayingGuitar"]
    assert s["index"] == max(range(5), key=lambda k: s["values"][k]), s
    assert s["class"] == classes[s["index"]], s
    assert all(abs(a - b) < 1e-6 for a, b in zip(s["values"], values[i * 5:(i + 1) * 5]))
PYEOF
  ok "--json parses and matches the -o file"
else
  fail "--json output"
fi

echo "== wrong input shape"
expect_rc 0 "init cnn" "$GESTA" init "$SRC/models/seed/cnn.yaml" -o "$TMP/cnn-random.safetensors"
expect_rc 0 "run cnn to save a (2, 64, 64, 3) input" "$GESTA" run "$SRC/models/seed/cnn.yaml" \
  --weights "$TMP/cnn-random.safetensors" --random-input 2 --save-input "$TMP/frames.safetensors"
expect_rc 2 "lrcn on a (2, 64, 64, 3) input" "$GESTA" run "$SRC/models/seed/lrcn.yaml" --weights "$W" \
  --input "$TMP/frames.safetensors"
expect_output "(2, 64, 64, 3)" "the message names the file's shape"
expect_output "(N, 20, 64, 64, 3)" "the message names the model's shape"

echo "== no weights"
cp "$SRC/models/seed/lrcn.yaml" "$TMP/lrcn.yaml"
expect_rc 2 "run without weights" "$GESTA" run "$TMP/lrcn.yaml" --random-input 1
expect_output "gesta init" "the message says how to make weights"
expect_output "lrcn.safetensors" "the message names the missing file"
expect_rc 2 "run with a --weights file that is not there" "$GESTA" run "$TMP/lrcn.yaml" \
  --weights "$TMP/nope.safetensors" --random-input 1
expect_rc 0 "init the model's own weights file" "$GESTA" init "$TMP/lrcn.yaml" -o "$TMP/lrcn.safetensors"
expect_rc 0 "run with the model's weights: file" "$GESTA" run "$TMP/lrcn.yaml" --random-input 1
expect_rc 2 "init refuses to overwrite the model's weights" "$GESTA" init "$TMP/lrcn.yaml" -o "$TMP/lrcn.safetensors"
expect_rc 0 "init --force overwrites them" "$GESTA" init "$TMP/lrcn.yaml" -o "$TMP/lrcn.safetensors" --force

echo "== weights of another model"
expect_rc 2 "lrcn with CNN weights" "$GESTA" run "$SRC/models/seed/lrcn.yaml" \
  --weights "$TMP/cnn-random.safetensors" --random-input 1

echo "== no model"
expect_rc 2 "nonexistent model" "$GESTA" run "$TMP/no-such-model.yaml" --weights "$W" --random-input 1
expect_output "gesta: error:" "the message starts with 'gesta: error:'"

echo "== CNN, batch 3"
expect_rc 0 "run cnn --random-input 3" "$GESTA" run "$SRC/models/seed/cnn.yaml" \
  --weights "$TMP/cnn-random.safetensors" --random-input 3 -o "$TMP/cnn-out.safetensors"
$PY "$TMP/st.py" softmax "$TMP/cnn-out.safetensors" out 3,5 && ok "CNN output (3, 5), rows sum to 1" \
  || fail "CNN output file"

echo "test_run: $failures failure(s)"
[ $failures -eq 0 ]
