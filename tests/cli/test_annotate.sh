#!/usr/bin/env bash
# gesta annotate end to end: videos made here with GStreamer are annotated
# to MP4, AVI and MKV and decoded back with gst-launch-1.0 (an independent
# decoder): same frame count, size and frame rate as the input, the label
# box drawn in the corner and the rest of the picture kept; bad arguments
# and unwritable outputs exit 2 and leave nothing behind.
# Usage: bash test_annotate.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

if "$GESTA" annotate "$SRC/models/lrcn.yaml" none.avi none.mp4 2>&1 | grep -q "without GStreamer" ||
  ! command -v gst-launch-1.0 >/dev/null; then
  echo "skipped: gesta built without GStreamer, or gst-launch-1.0 missing"
  exit 77 # ctest reports it as skipped
fi
make() { # make FILE FRAMES WIDTH HEIGHT
  gst-launch-1.0 -q videotestsrc num-buffers="$2" pattern=smpte \
    ! "video/x-raw,width=$3,height=$4,framerate=25/1" ! videoconvert \
    ! avenc_mpeg4 ! avimux ! filesink location="$TMP/$1" >/dev/null 2>&1 || fail "making $1"
}
make in.avi 60 160 120
make odd.avi 30 161 121
make v5.avi 5 160 120
# decode FILE DIR: every frame as raw GRAY8 in DIR; the negotiated caps in
# DIR.caps.
decode() {
  rm -rf "$2" && mkdir -p "$2"
  gst-launch-1.0 -v filesrc location="$1" ! decodebin ! videoconvert \
    ! video/x-raw,format=GRAY8 ! multifilesink location="$2/f%05d.raw" 2>&1 |
    grep -o 'capsfilter0.GstPad:sink: caps = .*' >"$2.caps"
}
# same_as_input DIR WIDTH HEIGHT FRAMES WHAT
same_as_input() {
  local n
  n=$(find "$1" -name 'f*.raw' | wc -l)
  [ "$n" = "$4" ] && ok "$5: $n frames decode back" || fail "$5: $n frames decode back (want $4)"
  if grep -q "width=(int)$2, height=(int)$3," "$1.caps" && grep -q "framerate=(fraction)25/1" "$1.caps"; then
    ok "$5: ${2}x$3 at 25/1 fps"
  else
    fail "$5: size or frame rate; caps:"
    cat "$1.caps"
  fi
}
decode "$TMP/in.avi" "$TMP/in.frames"
same_as_input "$TMP/in.frames" 160 120 60 "input"

"$GESTA" init "$SRC/models/lrcn.yaml" -o "$TMP/lrcn.safetensors" --seed 1 >/dev/null
"$GESTA" init "$SRC/models/cnn.yaml" -o "$TMP/cnn.safetensors" --seed 1 >/dev/null
A=("$GESTA" annotate "$SRC/models/lrcn.yaml" --weights "$TMP/lrcn.safetensors" --backend cpu)
C=("$GESTA" annotate "$SRC/models/cnn.yaml" --weights "$TMP/cnn.safetensors" --backend cpu)

# overlay_check DIR WHAT: the label box darkened the top-left corner of
# SMPTE bars in every frame; the bars below it are the input's.
overlay_check() {
  if $PY - "$TMP/in.frames" "$1" <<'PYEOF'; then ok "$2: label box drawn, picture kept"; else fail "$2: label box"; fi
import os, sys
W, H = 160, 120
a_dir, b_dir = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(a_dir))
assert names == sorted(os.listdir(b_dir)), "frame lists differ"
def mean(img, x0, y0, x1, y1):
    return sum(img[y * W + x] for y in range(y0, y1) for x in range(x0, x1)) / ((x1 - x0) * (y1 - y0))
for name in names:
    a = open(os.path.join(a_dir, name), "rb").read()
    b = open(os.path.join(b_dir, name), "rb").read()
    assert len(a) == len(b) == W * H, (name, len(a), len(b))
    corner_a, corner_b = mean(a, 0, 0, 32, 8), mean(b, 0, 0, 32, 8)
    assert corner_b < corner_a - 40, (name, corner_a, corner_b)
    # The bars (the test card's bottom rows are outside RGB's gamut).
    bars_a, bars_b = mean(a, 0, 40, W, 70), mean(b, 0, 40, W, 70)
    assert abs(bars_a - bars_b) < 4, (name, bars_a, bars_b)
print(len(names), "frames checked")
PYEOF
}

expect_rc 0 "LRCN to MP4" "${A[@]}" "$TMP/in.avi" "$TMP/out.mp4"
expect_output "wrote $TMP/out.mp4: 60 frames at 25 fps" "says what it wrote"
expect_output "segments:" "prints the segments"
decode "$TMP/out.mp4" "$TMP/mp4.frames"
same_as_input "$TMP/mp4.frames" 160 120 60 "MP4"
overlay_check "$TMP/mp4.frames" "MP4"

expect_rc 0 "CNN to AVI, windows of 10, stride 5, top 3" "${C[@]}" "$TMP/in.avi" "$TMP/out.avi" \
  --window 10 --stride 5 --top-k 3
decode "$TMP/out.avi" "$TMP/avi.frames"
same_as_input "$TMP/avi.frames" 160 120 60 "AVI"
overlay_check "$TMP/avi.frames" "AVI"
if head -c 12 "$TMP/out.avi" | grep -q "AVI " && head -c 400 "$TMP/out.avi" | grep -qa "DIVX\|FMP4\|XVID"; then
  ok "AVI holds MPEG-4 part 2"
else
  fail "AVI holds MPEG-4 part 2"
fi

expect_rc 0 "LRCN to MKV with --segments, stride 10" "${A[@]}" "$TMP/in.avi" "$TMP/out.mkv" --segments --stride 10
decode "$TMP/out.mkv" "$TMP/mkv.frames"
same_as_input "$TMP/mkv.frames" 160 120 60 "MKV"

expect_rc 0 "odd size 161x121 to MP4 (4:4:4)" "${A[@]}" "$TMP/odd.avi" "$TMP/odd.mp4"
decode "$TMP/odd.mp4" "$TMP/odd.frames"
same_as_input "$TMP/odd.frames" 161 121 30 "odd size"

# Bad arguments and outputs: exit 2, nothing written.
no_leftovers() { # no_leftovers WHAT
  local left
  left=$(find "$TMP" -maxdepth 2 -name '*.part' -o -maxdepth 2 -name 'bad*' -type f | head -3)
  [ -z "$left" ] && ok "$1: nothing left behind" || fail "$1: left $left"
}
expect_rc 2 "unknown extension" "${A[@]}" "$TMP/in.avi" "$TMP/bad.mov"
expect_output ".mp4, .avi, .mkv" "lists the supported extensions"
no_leftovers "unknown extension"
expect_rc 2 "no extension" "${A[@]}" "$TMP/in.avi" "$TMP/bad"
expect_rc 2 "output folder missing" "${A[@]}" "$TMP/in.avi" "$TMP/nowhere/bad.mp4"
expect_output "does not exist" "says the folder does not exist"
: >"$TMP/plainfile"
expect_rc 2 "output under a file" "${A[@]}" "$TMP/in.avi" "$TMP/plainfile/bad.mp4"
mkdir -p "$TMP/dir.mp4"
expect_rc 2 "output is a directory" "${A[@]}" "$TMP/in.avi" "$TMP/dir.mp4"
expect_output "is a directory" "says it is a directory"
if [ "$(id -u)" != 0 ]; then
  mkdir -p "$TMP/readonly" && chmod a-w "$TMP/readonly"
  expect_rc 2 "read-only folder" "${A[@]}" "$TMP/in.avi" "$TMP/readonly/bad.mp4"
  expect_output "not writable" "says the folder is not writable"
  chmod u+w "$TMP/readonly"
fi
no_leftovers "unwritable outputs"
expect_rc 2 "OUT is IN" "${A[@]}" "$TMP/in.avi" "$TMP/in.avi"

# Bad input: the same messages as gesta predict.
echo "this is not a video" >"$TMP/text.mp4"
expect_rc 2 "text file named .mp4" "${A[@]}" "$TMP/text.mp4" "$TMP/bad1.mp4"
expect_output "not a video" "not a video: predict's message"
expect_rc 2 "missing input" "${A[@]}" "$TMP/missing.avi" "$TMP/bad2.mp4"
expect_output "no such file" "missing: predict's message"
expect_rc 2 "5-frame video" "${A[@]}" "$TMP/v5.avi" "$TMP/bad3.mp4"
expect_output "only 5 decodable frames" "too short: predict's message"
expect_rc 2 "--window other than the LRCN's 20" "${A[@]}" "$TMP/in.avi" "$TMP/bad4.mp4" --window 8
expect_output "--window must be 20" "says the model's T"
expect_rc 2 "no weights" "$GESTA" annotate "$SRC/models/seed/lrcn.yaml" -b cpu "$TMP/in.avi" "$TMP/bad5.mp4"
expect_output "gesta init" "hint to make weights"
expect_rc 2 "missing OUT" "${A[@]}" "$TMP/in.avi"
no_leftovers "bad input"

# A missing encoder names its element and Debian package: a plugin
# registry without the x264 plugin.
PLUGINS=$(dirname "$(gst-inspect-1.0 x264enc 2>/dev/null | awk '/Filename/ {print $2}')")
if [ -f "$PLUGINS/libgstx264.so" ]; then
  mkdir -p "$TMP/plugins"
  for p in "$PLUGINS"/*.so; do
    [ "$(basename "$p")" = libgstx264.so ] || ln -sf "$p" "$TMP/plugins/"
  done
  expect_rc 2 "x264enc missing" env GST_PLUGIN_SYSTEM_PATH_1_0="$TMP/plugins" GST_PLUGIN_PATH_1_0= \
    GST_REGISTRY_1_0="$TMP/registry.bin" GST_REGISTRY="$TMP/registry.bin" \
    "${A[@]}" "$TMP/in.avi" "$TMP/bad6.mp4"
  expect_output "'x264enc' (Debian package gstreamer1.0-plugins-ugly)" "names x264enc and its package"
  no_leftovers "missing encoder"
fi

echo "test_annotate: $failures failure(s)"
[ $failures -eq 0 ]
