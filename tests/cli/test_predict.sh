#!/usr/bin/env bash
# gesta predict end to end on videos made here with GStreamer: the seed's
# line, --top-k, --json (validated with Python's json), uniform sampling
# indices against the formula, windows covering the video, a per-frame
# model, batching, and every bad input with its exit code.
# Usage: bash test_predict.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

if "$GESTA" predict "$SRC/models/seed/lrcn.yaml" none.mp4 2>&1 | grep -q "without GStreamer" ||
  ! command -v gst-launch-1.0 >/dev/null; then
  echo "skipped: gesta built without GStreamer, or gst-launch-1.0 missing"
  exit 77 # ctest reports it as skipped
fi
# The videos: 25 fps test patterns in several containers and codecs.
make() { # make FILE FRAMES ENCODER [CAPS]
  gst-launch-1.0 -q videotestsrc num-buffers="$2" pattern=ball \
    ! "video/x-raw,width=96,height=64,framerate=25/1${4:-}" ! videoconvert \
    ! $3 ! filesink location="$TMP/$1" >/dev/null 2>&1 || fail "making $1"
}
make v50.avi 50 "avenc_mpeg4 ! avimux"
make v41.mp4 41 "x264enc ! mp4mux"
make v45.mkv 45 "jpegenc ! matroskamux"
make v30.webm 30 "vp8enc ! webmmux"
make v5.avi 5 "avenc_mpeg4 ! avimux"

"$GESTA" init "$SRC/models/seed/lrcn.yaml" -o "$TMP/lrcn.safetensors" --seed 1 >/dev/null
"$GESTA" init "$SRC/models/seed/cnn.yaml" -o "$TMP/cnn.safetensors" --seed 1 >/dev/null
P=("$GESTA" predict "$SRC/models/seed/lrcn.yaml" --weights "$TMP/lrcn.safetensors" --backend cpu)

expect_rc 0 "predict one video" "${P[@]}" "$TMP/v50.avi"
if grep -qE '^Action Predicted: (ApplyLipstick|BabyCrawling|CricketBowling|MilitaryParade|PlayingGuitar) Confidence: [01]\.[0-9]{4}$' "$TMP/last.out"; then
  ok "the seed's line"
else
  fail "the seed's line:"; cat "$TMP/last.out"
fi
expect_rc 0 "--top-k 3" "${P[@]}" "$TMP/v50.avi" --top-k 3
[ "$(grep -cE '^  [123]\. [A-Za-z]+ [01]\.[0-9]{4}$' "$TMP/last.out")" = 3 ] && ok "three top-k lines" || { fail "top-k lines"; cat "$TMP/last.out"; }

# --json over several videos in one batch: one valid object per video,
# frames_used = k * max(floor(frame_count / 20), 1).
expect_rc 0 "--json, four videos, batch 3" "${P[@]}" --json --top-k 2 --batch 3 \
  "$TMP/v50.avi" "$TMP/v41.mp4" "$TMP/v45.mkv" "$TMP/v30.webm"
if $PY - "$TMP/last.out" <<'PYEOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) == 4, lines
for line, (name, n) in zip(lines, [("v50.avi", 50), ("v41.mp4", 41), ("v45.mkv", 45), ("v30.webm", 30)]):
    o = json.loads(line)
    assert o["file"].endswith(name), o["file"]
    assert o["frame_count"] == n, (name, o["frame_count"])
    skip = max(n // 20, 1)
    assert o["frames_used"] == [k * skip for k in range(20)], o["frames_used"]
    assert len(o["top_k"]) == 2 and o["top_k"][0]["label"] == o["label"]
    assert abs(o["top_k"][0]["p"] - o["confidence"]) < 1e-9
    assert set(o["timings_ms"]) == {"decode", "preprocess", "inference"}
    assert (o["width"], o["height"]) == (96, 64)
print("4 JSON objects, sampling indices as the formula says")
PYEOF
then ok "JSON and sampling indices"; else fail "JSON and sampling indices"; cat "$TMP/last.out"; fi

# Windows: 45 frames, T = 20, stride 10 -> 0, 10, 20 and a last one at 25,
# covering 0 to 1.8 s; JSON segments span the same.
expect_rc 0 "--window 20 --stride 10" "${P[@]}" "$TMP/v45.mkv" --window 20 --stride 10
expect_output "0.00-0.80 s  frames 0-19" "first window"
expect_output "1.00-1.80 s  frames 25-44" "last window reaches the end"
expect_output "segments:" "segments"
expect_rc 0 "--window --json" "${P[@]}" "$TMP/v45.mkv" --window 20 --stride 10 --json
if $PY - "$TMP/last.out" <<'PYEOF'
import json, sys
o = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][0])
w = o["windows"]
assert [x["first_frame"] for x in w] == [0, 10, 20, 25], w
assert abs(w[0]["start"]) < 1e-6 and abs(w[-1]["end"] - 1.8) < 1e-3, w
s = o["segments"]
assert abs(s[0]["start"]) < 1e-6 and abs(s[-1]["end"] - 1.8) < 1e-3, s
assert sum(x["windows"] for x in s) == len(w)
for a, b in zip(s, s[1:]):
    assert a["label"] != b["label"]
print("windows cover 0-1.8 s")
PYEOF
then ok "window JSON"; else fail "window JSON"; cat "$TMP/last.out"; fi
expect_rc 2 "--window other than the LRCN's 20" "${P[@]}" "$TMP/v45.mkv" --window 8
expect_output "--window must be 20" "says the model's T"

# The per-frame CNN: a clip is the mean of its frames.
expect_rc 0 "per-frame model" "$GESTA" predict "$SRC/models/seed/cnn.yaml" --weights "$TMP/cnn.safetensors" -b cpu "$TMP/v41.mp4" --json
expect_output '"frames_used":[0,2,4,' "CNN samples like the LRCN"
expect_rc 0 "per-frame model, windows of 8" "$GESTA" predict "$SRC/models/seed/cnn.yaml" --weights "$TMP/cnn.safetensors" -b cpu "$TMP/v30.webm" --window 8
expect_output "frames 22-29" "last CNN window"

# No weights: the same hint as gesta run.
expect_rc 2 "no weights" "$GESTA" predict "$SRC/models/seed/lrcn.yaml" -b cpu "$TMP/v50.avi"
expect_output "gesta init" "hint to make weights"

# Bad input: one clear line each, exit 2, the next video still predicted.
echo "this is not a video" >"$TMP/text.mp4"
: >"$TMP/empty.mp4"
head -c "$(($(stat -c %s "$TMP/v45.mkv") / 2))" "$TMP/v45.mkv" >"$TMP/half.mkv"
gst-launch-1.0 -q audiotestsrc num-buffers=30 ! vorbisenc ! oggmux ! filesink location="$TMP/audio.ogg" >/dev/null 2>&1
check_bad() { # check_bad FILE TEXT WHAT
  expect_rc 2 "$3" "${P[@]}" "$1"
  expect_output "$2" "$3: says '$2'"
  [ "$(grep -c '^gesta: error:' "$TMP/last.out")" = 1 ] && ok "$3: one error line" || fail "$3: one error line"
}
check_bad "$TMP/missing.mp4" "no such file" "missing file"
check_bad "$TMP" "is a directory" "directory"
check_bad "$TMP/text.mp4" "not a video" "text file named .mp4"
check_bad "$TMP/empty.mp4" "empty" "zero-length file"
check_bad "$TMP/audio.ogg" "no video stream" "audio-only file"
check_bad "$TMP/v5.avi" "only 5 decodable frames, fewer than the 20" "5-frame video"
expect_rc 2 "bad video among good ones" "${P[@]}" "$TMP/v50.avi" "$TMP/text.mp4" "$TMP/v41.mp4"
[ "$(grep -c 'Action Predicted' "$TMP/last.out")" = 2 ] && ok "the good videos still predicted" || { fail "good videos"; cat "$TMP/last.out"; }
expect_rc 0 "truncated video: a warning and a result" "${P[@]}" "$TMP/half.mkv"
expect_output "warning:" "truncated: warning"
expect_output "Action Predicted:" "truncated: result"

# A missing decoder names the Debian package (H.264 decoders ranked out).
expect_rc 2 "missing H.264 decoder" env \
  GST_PLUGIN_FEATURE_RANK=avdec_h264:NONE,openh264dec:NONE "${P[@]}" "$TMP/v41.mp4"
expect_output "gstreamer1.0-libav" "names the package"

# Several videos in one call, decoded by several threads ahead of the
# model, give each video the result it gets alone, in argument order.
VIDS=("$TMP/v50.avi" "$TMP/v41.mp4" "$TMP/v45.mkv" "$TMP/v30.webm" "$TMP/half.mkv" "$TMP/v50.avi")
: >"$TMP/alone.json"
for v in "${VIDS[@]}"; do
  "${P[@]}" --json "$v" 2>/dev/null | grep '^{' >>"$TMP/alone.json"
done
for d in 1 3; do
  expect_rc 0 "six videos, --decoders $d, batch 4" "${P[@]}" --json --decoders $d "${VIDS[@]}"
  grep '^{' "$TMP/last.out" >"$TMP/together.json"
  if $PY - "$TMP/alone.json" "$TMP/together.json" <<'PYEOF'
import json, sys
alone = [json.loads(l) for l in open(sys.argv[1])]
together = [json.loads(l) for l in open(sys.argv[2])]
assert len(alone) == len(together) == 6, (len(alone), len(together))
for a, t in zip(alone, together):
    assert a["file"] == t["file"], (a["file"], t["file"])
    for key in ("label", "frames_used", "frame_count"):
        assert a[key] == t[key], (a["file"], key, a[key], t[key])
    assert abs(a["confidence"] - t["confidence"]) < 1e-5, (a, t)
print("same results as one video at a time")
PYEOF
  then ok "--decoders $d: same results, same order"; else fail "--decoders $d: results"; fi
done
expect_rc 2 "--decoders 0" "${P[@]}" --decoders 0 "$TMP/v50.avi"

expect_rc 2 "no video argument" "$GESTA" predict "$SRC/models/seed/lrcn.yaml"
expect_rc 2 "--stride without --window" "${P[@]}" "$TMP/v50.avi" --stride 3

echo "test_predict: $failures failure(s)"
[ $failures -eq 0 ]
