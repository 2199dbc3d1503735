#!/usr/bin/env bash
# tools/keras2gesta end to end: the Keras goldens (tests/goldens/) convert
# from every file format, gesta runs them and gives Keras' probabilities,
# and models gesta cannot reproduce fail with the layer and option named.
# Per-layer parity on every backend is tests/test_keras.c.
# Usage: bash test_keras.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
K2G="$SRC/tools/keras2gesta"
GOLD=$SRC/tests/goldens
CLASSES=ApplyLipstick,BabyCrawling,CricketBowling,MilitaryParade,PlayingGuitar

if ! $PY -c "import h5py, numpy" 2>/dev/null; then
  fail "the converter needs Debian's python3-h5py and python3-numpy"
  echo "keras: $failures failure(s)"
  exit 1
fi

# Helpers: pattern inputs (as tools/make-keras-goldens makes them), output
# comparison, and tiny Keras files written with h5py alone.
cat >"$TMP/k.py" <<'PYEOF'
import json, struct, sys, zipfile, io
import numpy as np

def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    meta = h.pop("__metadata__", {})
    return {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             "<f4").reshape(v["shape"]) for k, v in h.items()}, meta

def pattern(shape, seed):
    i = np.arange(int(np.prod(shape)), dtype=np.uint64) + np.uint64(7919 * seed)
    u8 = ((i * np.uint64(2654435761)) % np.uint64(2 ** 32)) >> np.uint64(24)
    return (u8.astype(np.float32) / np.float32(255)).reshape(shape)

def save(path, name, x):
    h = json.dumps({name: {"dtype": "F32", "shape": list(x.shape),
                           "data_offsets": [0, x.nbytes]}}).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + x.astype("<f4").tobytes())

def layer(cls, name, **cfg):
    cfg["name"] = name
    cfg.setdefault("dtype", "float32")
    return {"class_name": cls, "config": cfg}

def h5(path, layers, weights, functional=False):
    import h5py
    with h5py.File(path, "w") as f:
        if functional:
            cfg = {"class_name": "Functional", "config": {
                "name": "m", "layers": layers,
                "input_layers": [[layers[0]["config"]["name"], 0, 0]],
                "output_layers": [[layers[-1]["config"]["name"], 0, 0]]}}
        else:
            cfg = {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        for lname, ws in weights.items():
            g = mw.create_group(lname)
            g.attrs["weight_names"] = ["%s/%s:0" % (lname, k) for k in ws]
            for k, a in ws.items():
                g.create_dataset("%s/%s:0" % (lname, k), data=np.asarray(a, np.float32))

def conv(name="conv", **extra):
    cfg = dict(filters=2, kernel_size=[3, 3], strides=[1, 1], padding="valid",
               data_format="channels_last", dilation_rate=[1, 1], groups=1,
               activation="relu", use_bias=True)
    cfg.update(extra)
    return layer("Conv2D", name, **cfg)

def lstm(name="lstm", **extra):
    cfg = dict(units=2, activation="tanh", recurrent_activation="sigmoid",
               use_bias=True, return_sequences=False, go_backwards=False,
               stateful=False, unroll=False)
    cfg.update(extra)
    return layer("LSTM", name, **cfg)

INPUT4 = layer("InputLayer", "in", batch_input_shape=[None, 8, 8, 3])
INPUT_SEQ = layer("InputLayer", "in", batch_input_shape=[None, 4, 6])
CONV_W = {"conv": {"kernel": np.full((3, 3, 3, 2), 0.1), "bias": [0.0, 1.0]}}
LSTM_W = {"lstm": {"kernel": np.full((6, 8), 0.1), "recurrent_kernel": np.full((2, 8), 0.2),
                   "bias": np.zeros(8)}}

def bad(kind, path):
    if kind == "gru":
        h5(path, [INPUT_SEQ, layer("GRU", "gru", units=2)], {})
    elif kind == "dilation":
        h5(path, [INPUT4, conv(dilation_rate=[2, 2])], CONV_W)
    elif kind == "channels_first":
        h5(path, [INPUT4, conv(data_format="channels_first")], CONV_W)
    elif kind == "float16":
        h5(path, [INPUT4, conv(dtype={"class_name": "Policy",
                                      "config": {"name": "mixed_float16"}})], CONV_W)
    elif kind == "go_backwards":
        h5(path, [INPUT_SEQ, lstm(go_backwards=True)], LSTM_W)
    elif kind == "stateful":
        h5(path, [INPUT_SEQ, lstm(stateful=True)], LSTM_W)
    elif kind == "hard_sigmoid":
        h5(path, [INPUT_SEQ, lstm(recurrent_activation="hard_sigmoid")], LSTM_W)
    elif kind == "elu":
        h5(path, [INPUT4, conv(activation="elu")], CONV_W)
    elif kind == "unknown_option":
        h5(path, [INPUT4, conv(my_new_option=3)], CONV_W)
    elif kind == "td_lstm":
        td = layer("TimeDistributed", "td", layer=lstm())
        h5(path, [layer("InputLayer", "in", batch_input_shape=[None, 3, 4, 6]), td], {})
    elif kind == "bn_axis":
        h5(path, [INPUT4, layer("BatchNormalization", "bn", axis=1, momentum=0.99,
                                epsilon=0.001, center=True, scale=True)],
           {"bn": {k: np.ones(8) for k in ("gamma", "beta", "moving_mean", "moving_variance")}})
    elif kind == "keras_zip":  # a Keras 3 archive with an unsupported layer
        cfg = {"class_name": "Sequential", "config": {"name": "m", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 4, 6], "name": "input_layer"}},
            {"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 2}}]}}
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", json.dumps(cfg))
            z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
            z.writestr("model.weights.h5", b"")
    elif kind == "weights_only":
        import h5py
        with h5py.File(path, "w") as f:
            f.create_group("conv")

def functional(path):
    """in -> conv -> pool -> gap -> dense, with an Activation layer and a
    layer reading one that is not the previous one in the list."""
    inb = lambda n: [[[n, 0, 0, {}]]]
    L = [dict(layer("InputLayer", "img", batch_input_shape=[None, 8, 8, 3]), name="img", inbound_nodes=[]),
         dict(conv("c1", activation="linear"), name="c1", inbound_nodes=inb("img")),
         dict(layer("MaxPooling2D", "p1", pool_size=[2, 2], strides=None, padding="valid",
                    data_format="channels_last"), name="p1", inbound_nodes=inb("c1")),
         dict(layer("Activation", "act", activation="sigmoid"), name="act", inbound_nodes=inb("p1")),
         dict(layer("GlobalAveragePooling2D", "gap", data_format="channels_last", keepdims=False),
              name="gap", inbound_nodes=inb("act")),
         dict(layer("Dense", "d", units=3, activation="softmax", use_bias=False), name="d",
              inbound_nodes=inb("gap"))]
    L[1]["config"]["name"] = "c1"
    h5(path, L, {"c1": {"kernel": np.linspace(-1, 1, 54).reshape(3, 3, 3, 2), "bias": [0.5, -0.5]},
                 "d": {"kernel": np.linspace(-1, 1, 6).reshape(2, 3)}}, functional=True)

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "input":  # golden, out, tensor name
        _, meta = load(sys.argv[2])
        shape = [int(v) for v in meta["input_shape"].split(",")]
        save(sys.argv[3], sys.argv[4], pattern(shape, int(meta["input_seed"])))
    elif cmd == "compare":  # golden, gesta output, layer
        g, _ = load(sys.argv[2])
        o, _ = load(sys.argv[3])
        a, b = list(o.values())[0], g[sys.argv[4]]
        assert a.shape == b.shape, (a.shape, b.shape)
        rel = np.abs(a - b).max() / np.abs(b).max()
        print("max relative difference %.3g" % rel)
        sys.exit(0 if rel <= 1e-5 else 1)
    elif cmd == "bad":
        bad(sys.argv[2], sys.argv[3])
    elif cmd == "functional":
        functional(sys.argv[2])
PYEOF
K() { $PY "$TMP/k.py" "$@"; }

echo "== --help"
expect_rc 0 "keras2gesta --help" $PY "$K2G" --help
expect_output "usage: gesta-keras2gesta" "--help shows the usage"
expect_output "--classes-file" "--help lists --classes-file"

echo "== the seed's LRCN and CNN, every file format"
for f in lrcn.h5 lrcn.keras cnn.h5 cnn.keras cnn-k3.h5; do
  y=$TMP/${f/./-}.yaml
  expect_rc 0 "convert $f" $PY "$K2G" "$GOLD/$f" -o "$y" --classes $CLASSES
  [ -s "${y%.yaml}.safetensors" ] && ok "$f: weights next to the YAML" || fail "$f: no weights"
  expect_rc 0 "gesta info on $f's conversion" "$GESTA" info "$y"
  case $f in
  lrcn*) expect_output "Total params: 195,973" "$f: 195,973 parameters, as Keras" ;;
  cnn*)
    expect_output "Trainable params: 57,285" "$f: 57,285 trainable, as Keras"
    expect_output "Non-trainable params: 640" "$f: 640 non-trainable, as Keras"
    ;;
  esac
  expect_output "PlayingGuitar" "$f: the classes are in the model"
done
grep -q "frames: 20" "$TMP/lrcn-h5.yaml" && grep -q "channels: bgr" "$TMP/lrcn-h5.yaml" &&
  ok "the seed's preprocessing (bgr, 20 frames)" || fail "preprocess line: $(grep preprocess "$TMP/lrcn-h5.yaml")"

echo "== gesta run gives Keras' probabilities"
K input "$GOLD/lrcn-forward.safetensors" "$TMP/lrcn-in.safetensors" clip
K input "$GOLD/cnn-forward.safetensors" "$TMP/cnn-in.safetensors" frame
for m in lrcn-h5 lrcn-keras cnn-h5 cnn-keras cnn-k3-h5; do
  kind=${m%%-*}
  out=dense
  [ $kind = cnn ] && out=dense_1
  expect_rc 0 "run $m" "$GESTA" run "$TMP/$m.yaml" --backend cpu --input "$TMP/$kind-in.safetensors" \
    -o "$TMP/$m-out.safetensors"
  if K compare "$GOLD/$kind-forward.safetensors" "$TMP/$m-out.safetensors" $out >"$TMP/cmp.out" 2>&1; then
    ok "$m: $(cat "$TMP/cmp.out") (<= 1e-5)"
  else
    fail "$m: $(cat "$TMP/cmp.out")"
  fi
done

echo "== classes, names, shapes"
printf 'a\nb\nc\nd\ne\n' >"$TMP/classes.txt"
expect_rc 0 "--classes-file" $PY "$K2G" "$GOLD/cnn.h5" -o "$TMP/cf.yaml" --classes-file "$TMP/classes.txt" \
  --name seed-cnn
grep -q "classes: \[a, b, c, d, e\]" "$TMP/cf.yaml" && grep -q "name: seed-cnn" "$TMP/cf.yaml" &&
  ok "classes from the file, --name" || fail "classes file: $(head -4 "$TMP/cf.yaml")"
expect_rc 2 "three classes for five outputs" $PY "$K2G" "$GOLD/cnn.h5" -o "$TMP/x.yaml" --classes a,b,c
expect_output "3 class names given but the output layer 'dense_1' gives 5" "class count mismatch named"
expect_rc 2 "--input-shape that the LSTM's weights cannot take" $PY "$K2G" "$GOLD/lrcn.keras" \
  -o "$TMP/x.yaml" --input-shape 20,32,32,3
expect_output "layer 'lstm' (LSTM): weight 'kernel' has shape (1024, 128), expected (256, 128)" \
  "weight shape mismatch named"
expect_rc 0 "--input-shape 4,64,64,3 (shorter clips)" $PY "$K2G" "$GOLD/lrcn.keras" -o "$TMP/t4.yaml" -q \
  --input-shape 4,64,64,3
grep -q "frames: 4" "$TMP/t4.yaml" && ok "4-frame clips" || fail "t4: $(grep preprocess "$TMP/t4.yaml")"

echo "== a functional model"
K functional "$TMP/func.h5"
expect_rc 0 "convert a functional model" $PY "$K2G" "$TMP/func.h5" -o "$TMP/func.yaml" -q
grep -q "name: act, op: sigmoid" "$TMP/func.yaml" && grep -q "use_bias: false" "$TMP/func.yaml" &&
  ok "Activation layer and use_bias=False mapped" || fail "functional: $(cat "$TMP/func.yaml")"
expect_rc 0 "gesta runs it" "$GESTA" run "$TMP/func.yaml" --backend cpu --random-input 2

echo "== what gesta cannot reproduce is refused, layer and option named"
check_bad() { # kind file-extension expected-text
  K bad "$1" "$TMP/bad-$1.$2"
  expect_rc 2 "refuses $1" $PY "$K2G" "$TMP/bad-$1.$2" -o "$TMP/bad.yaml"
  expect_output "$3" "$1: '$3'"
}
check_bad gru h5 "layer 'gru' (GRU): layer type GRU is not supported"
check_bad dilation h5 "layer 'conv' (Conv2D): option 'dilation_rate' is [2, 2]"
check_bad channels_first h5 "option 'data_format' is \"channels_first\""
check_bad float16 h5 "option 'dtype' is 'mixed_float16'"
check_bad go_backwards h5 "layer 'lstm' (LSTM): option 'go_backwards' is true"
check_bad stateful h5 "option 'stateful' is true"
check_bad hard_sigmoid h5 "option 'recurrent_activation' is \"hard_sigmoid\""
check_bad elu h5 "option 'activation' is \"elu\"; gesta supports linear, relu"
check_bad unknown_option h5 "option 'my_new_option' (3) is not known to this converter"
check_bad td_lstm h5 "layer 'td' (TimeDistributed(LSTM)): gesta's lstm cannot be time-distributed"
check_bad bn_axis h5 "layer 'bn' (BatchNormalization): option 'axis' is 1"
check_bad keras_zip keras "layer 'rnn' (SimpleRNN): layer type SimpleRNN is not supported"
check_bad weights_only h5 "weights-only file"
[ ! -e "$TMP/bad.yaml" ] && ok "nothing written on error" || fail "a refused model left $TMP/bad.yaml"

echo "== files that are not models"
echo "hello" >"$TMP/notes.txt"
expect_rc 2 "a text file" $PY "$K2G" "$TMP/notes.txt" -o "$TMP/x.yaml"
expect_output "not a Keras model" "says it is not a Keras model"
expect_rc 1 "a missing file" $PY "$K2G" "$TMP/missing.h5" -o "$TMP/x.yaml"
expect_output "missing.h5: no such file" "names the missing file"
expect_rc 2 "-o without .yaml" $PY "$K2G" "$GOLD/cnn.h5" -o "$TMP/x.txt"

echo "keras: $failures failure(s)"
[ $failures -eq 0 ]
