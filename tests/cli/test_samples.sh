#!/usr/bin/env bash
# Optional (ctest label "samples"): real videos from Debian's opencv-doc
# package, installed here when missing. vtest.avi and Megamind.avi are
# intact; Megamind_bugy.avi is the file OpenCV keeps for a damaged-input
# bug and must give a result (with or without a warning) or one clear
# error, never a crash or a hang. Annotated output decodes back with the
# input's frame count.
# Run with: GESTA_SAMPLES=1 ctest -L samples --output-on-failure
# Usage: bash test_samples.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
if [ "${GESTA_SAMPLES:-0}" != 1 ]; then
  echo "skipped: the sample-video test runs with GESTA_SAMPLES=1 (it may install opencv-doc)"
  exit 77 # ctest reports it as skipped
fi
. "$(dirname "$0")/lib.sh"
if "$GESTA" predict "$SRC/models/lrcn.yaml" none.mp4 2>&1 | grep -q "without GStreamer"; then
  echo "skipped: gesta built without GStreamer"
  exit 77 # ctest reports it as skipped
fi

if ! dpkg-query -W -f='${Status}' opencv-doc 2>/dev/null | grep -q "install ok installed"; then
  SUDO=()
  [ "$(id -u)" = 0 ] || SUDO=(sudo -n)
  echo "installing opencv-doc (about 95 MB) for its sample videos"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y --no-install-recommends opencv-doc >"$TMP/apt.log" 2>&1 ||
    {
      fail "cannot install opencv-doc (run as root or with password-less sudo, or install it first):"
      tail -5 "$TMP/apt.log"
      echo "test_samples: $failures failure(s)"
      exit 1
    }
fi
DATA=$(dirname "$(dpkg -L opencv-doc | grep '/vtest\.avi$' | head -1)")
for f in vtest.avi Megamind.avi Megamind_bugy.avi; do
  [ -f "$DATA/$f" ] || fail "opencv-doc has no $f (looked in $DATA)"
done

"$GESTA" init "$SRC/models/lrcn.yaml" -o "$TMP/lrcn.safetensors" --seed 1 >/dev/null
"$GESTA" init "$SRC/models/cnn.yaml" -o "$TMP/cnn.safetensors" --seed 1 >/dev/null
P=(timeout 300 "$GESTA" predict "$SRC/models/lrcn.yaml" --weights "$TMP/lrcn.safetensors" --backend cpu)
A=(timeout 300 "$GESTA" annotate "$SRC/models/lrcn.yaml" --weights "$TMP/lrcn.safetensors" --backend cpu --no-progress)

# frames FILE: frames that decode with gst-launch-1.0, scaled down so
# counting them costs little disk.
frames() {
  rm -rf "$TMP/count" && mkdir -p "$TMP/count"
  timeout 300 gst-launch-1.0 -q filesrc location="$1" ! decodebin ! videoconvert ! videoscale \
    ! video/x-raw,format=GRAY8,width=8,height=8 ! multifilesink location="$TMP/count/f%06d" >/dev/null 2>&1
  find "$TMP/count" -type f | wc -l
}
# json_field KEY: from the last output's JSON line.
json_field() {
  $PY -c 'import json,sys; print(json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][0])[sys.argv[2]])' \
    "$TMP/last.out" "$1" 2>/dev/null
}

for f in vtest.avi Megamind.avi; do
  expect_rc 0 "predict $f" "${P[@]}" "$DATA/$f"
  expect_output "Action Predicted:" "$f: the seed's line"
  if grep -q "warning" "$TMP/last.out"; then
    fail "$f is intact but gesta warns:"
    cat "$TMP/last.out"
  else
    ok "$f: no warning"
  fi
done

# The damaged file: a warning and a result (exit 0), or one error line
# (exit 2); a crash, a sanitizer report or the timeout is a failure.
"${P[@]}" --json "$DATA/Megamind_bugy.avi" >"$TMP/last.out" 2>&1
rc=$?
case $rc in
0)
  grep -q '^{' "$TMP/last.out" && ok "Megamind_bugy.avi: a result" || fail "Megamind_bugy.avi: exit 0 without a result"
  # GStreamer's decoder reads all of it (OpenCV's bug was in seeking):
  # a warning is allowed, not required.
  grep -q "warning" "$TMP/last.out" && ok "Megamind_bugy.avi: $(grep -o 'warning: .*' "$TMP/last.out" | head -1 | cut -c1-100)"
  bugy_frames=$(json_field frame_count)
  ;;
2)
  [ "$(grep -c '^gesta: error:' "$TMP/last.out")" = 1 ] && ok "Megamind_bugy.avi: one clear error" ||
    { fail "Megamind_bugy.avi: exit 2 without one error line"; cat "$TMP/last.out"; }
  bugy_frames=
  ;;
*)
  fail "Megamind_bugy.avi: exit $rc (crash, sanitizer report or timeout):"
  tail -20 "$TMP/last.out"
  bugy_frames=
  ;;
esac
if grep -q "ERROR: AddressSanitizer\|runtime error:" "$TMP/last.out"; then
  fail "Megamind_bugy.avi: sanitizer report"
fi

# Annotated output has the input's frames: counted by gst-launch-1.0 on
# both sides, and by gesta's own first pass.
expect_rc 0 "predict --window on vtest.avi" "${P[@]}" --json --window 20 "$DATA/vtest.avi"
vtest_frames=$(json_field frame_count)
expect_rc 0 "annotate vtest.avi to MP4" "${A[@]}" "$DATA/vtest.avi" "$TMP/vtest.mp4"
in_n=$(frames "$DATA/vtest.avi")
out_n=$(frames "$TMP/vtest.mp4")
if [ "$in_n" -gt 0 ] && [ "$in_n" = "$out_n" ] && [ "$in_n" = "$vtest_frames" ]; then
  ok "vtest.mp4 decodes back with the input's $in_n frames"
else
  fail "vtest.mp4: $out_n frames decode back; the input has $in_n (gesta counted $vtest_frames)"
fi

"${A[@]}" "$DATA/Megamind_bugy.avi" "$TMP/bugy.avi" >"$TMP/last.out" 2>&1
rc=$?
if [ $rc = 0 ] && [ -n "$bugy_frames" ]; then
  out_n=$(frames "$TMP/bugy.avi")
  [ "$out_n" = "$bugy_frames" ] && ok "annotated Megamind_bugy.avi has the $out_n frames that decoded" ||
    fail "annotated Megamind_bugy.avi: $out_n frames, predict used $bugy_frames"
elif [ $rc = 2 ] && [ ! -e "$TMP/bugy.avi" ]; then
  ok "annotate Megamind_bugy.avi: a clear error, nothing written"
else
  fail "annotate Megamind_bugy.avi: exit $rc:"
  tail -20 "$TMP/last.out"
fi

echo "test_samples: $failures failure(s)"
[ $failures -eq 0 ]
