#!/usr/bin/env bash
# gesta synth end to end on a tiny dataset: layout and list formats, videos
# that decode at 320x240 with 40-150 frames, byte-identical rebuilds from a
# seed, --force and its cleanup, and the errors (bad options, a folder that
# is not empty or cannot be made, a missing GStreamer plugin).
# Usage: bash test_synth.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
CLASSES="LowerArms RaiseArms SitDown StandUp WalkLeft WalkRight"

expect_rc 0 "synth --help" "$GESTA" synth --help
expect_output "Usage: gesta synth" "--help shows the synopsis"

: >"$TMP/plainfile"
# Fails fast either way: on the regular file, or for want of GStreamer.
if ! "$GESTA" synth -n 1 -g 1 "$TMP/plainfile" >"$TMP/probe.out" 2>&1 &&
  grep -q "built without GStreamer" "$TMP/probe.out"; then
  ok "this gesta has no GStreamer: the rest is skipped"
  echo "synth: $failures failure(s)"
  [ $failures -eq 0 ]
  exit
fi

expect_rc 2 "synth without OUT_DIR" "$GESTA" synth
expect_output "missing OUT_DIR" "says what is missing"

echo "== a tiny dataset: 2 videos per class in 2 groups"
A=$TMP/a
expect_rc 0 "synth -n 2 -g 2 --seed 1" "$GESTA" synth --videos-per-class 2 --groups 2 --seed 1 "$A"
expect_output "wrote 12 videos (6 classes, 2 groups: 1 for training, 1 for testing)" "summary line"
expect_output "gesta synth: 12/12 " "a progress line per video when stderr is not a terminal"

printf '1 LowerArms\n2 RaiseArms\n3 SitDown\n4 StandUp\n5 WalkLeft\n6 WalkRight\n' >"$TMP/classInd.want"
cmp -s "$A/classInd.txt" "$TMP/classInd.want" && ok "classInd.txt: 1-based, alphabetical" \
  || { fail "classInd.txt:"; cat "$A/classInd.txt"; }
: >"$TMP/train.want"
: >"$TMP/test.want"
label=1
for c in $CLASSES; do
  echo "$c/v_${c}_g01_c01.avi" >>"$TMP/test.want"
  echo "$c/v_${c}_g02_c01.avi $label" >>"$TMP/train.want"
  label=$((label + 1))
done
cmp -s "$A/trainlist01.txt" "$TMP/train.want" && ok "trainlist01.txt: group 2, '<Class>/v_..avi <label>'" \
  || { fail "trainlist01.txt:"; cat "$A/trainlist01.txt"; }
cmp -s "$A/testlist01.txt" "$TMP/test.want" && ok "testlist01.txt: group 1, '<Class>/v_..avi'" \
  || { fail "testlist01.txt:"; cat "$A/testlist01.txt"; }
n=$(find "$A" -name '*.avi' | wc -l)
[ "$n" -eq 12 ] && ok "12 videos on disk" || fail "$n videos on disk, want 12"
[ -z "$(find "$A" -name '*.part')" ] && ok "no .part files left" || fail "leftover .part files"
(cd "$A" && cut -d' ' -f1 trainlist01.txt testlist01.txt | sort) >"$TMP/listed"
(cd "$A" && find . -name '*.avi' | sed 's|^\./||' | sort) >"$TMP/ondisk"
cmp -s "$TMP/listed" "$TMP/ondisk" && ok "the lists name exactly the videos on disk" \
  || fail "lists and files differ: $(diff "$TMP/listed" "$TMP/ondisk" | tr '\n' ' ')"

echo "== every video decodes at 320x240 with 40-150 frames"
# Decoded to 8-bit gray at exactly 320x240 (no scaler: another size fails
# negotiation), so the byte count is the frame count times 76800.
frames() {
  rm -f "$TMP/raw"
  gst-launch-1.0 -q filesrc location="$1" ! decodebin ! videoconvert ! \
    video/x-raw,format=GRAY8,width=320,height=240 ! filesink location="$TMP/raw" \
    >/dev/null 2>&1 || return 1
  local bytes
  bytes=$(stat -c %s "$TMP/raw")
  [ $((bytes % 76800)) -eq 0 ] || return 1
  echo $((bytes / 76800))
}
bad=0
declare -A count
for f in "$A"/*/*.avi; do
  if ! k=$(frames "$f") || [ "$k" -lt 40 ] || [ "$k" -gt 150 ]; then
    fail "$f: does not decode at 320x240 with 40-150 frames (got '${k:-}')"
    bad=1
  fi
  count[$(basename "$f")]=${k:-}
done
[ $bad -eq 0 ] && ok "12 videos decode, 320x240, 40-150 frames"
if command -v gst-discoverer-1.0 >/dev/null; then
  gst-discoverer-1.0 "$A/SitDown/v_SitDown_g01_c01.avi" >"$TMP/disc" 2>&1
  grep -q "MPEG-4" "$TMP/disc" && grep -q "Frame rate: 25/1" "$TMP/disc" &&
    grep -qi "avi" "$TMP/disc" && ok "MPEG-4 video in AVI at 25 fps" \
    || { fail "gst-discoverer says:"; cat "$TMP/disc"; }
fi
for pair in "SitDown StandUp" "RaiseArms LowerArms" "WalkRight WalkLeft"; do
  set -- $pair
  fa=${count[v_$1_g02_c01.avi]} fb=${count[v_$2_g02_c01.avi]}
  [ "$fa" = "$fb" ] && ok "$1 and $2 g02_c01 have the same length ($fa)" \
    || fail "$1 has $fa frames, $2 $fb"
done

echo "== determinism"
B=$TMP/b
expect_rc 0 "same seed again" "$GESTA" synth -q -n 2 -g 2 --seed 1 "$B"
[ ! -s "$TMP/last.out" ] || [ "$(grep -c 'gesta synth:' "$TMP/last.out")" -eq 0 ] &&
  ok "-q prints no progress" || fail "-q printed progress"
diffs=0
for f in $(cd "$A" && find . -type f | sort); do
  cmp -s "$A/$f" "$B/$f" || { diffs=$((diffs + 1)); echo "differs: $f"; }
done
[ $diffs -eq 0 ] && ok "same seed: every file byte-identical" || fail "$diffs files differ"
# Group 1's clips do not depend on how many groups there are, so a
# one-group dataset is enough to compare with.
C=$TMP/c
expect_rc 0 "another seed" "$GESTA" synth -q -n 1 -g 1 --seed 2 "$C"
same=0
for f in $(cd "$C" && find . -name '*.avi'); do
  cmp -s "$A/$f" "$C/$f" && same=$((same + 1))
done
[ $same -eq 0 ] && ok "another seed: every video differs" || fail "$same videos identical across seeds"

echo "== an existing folder"
expect_rc 2 "not empty, no --force" "$GESTA" synth -n 2 -g 2 --seed 1 "$A"
expect_output "--force" "the error points to --force"
# A smaller dataset over the first one: the clips it lacks go.
D=$TMP/d
cp -r "$A" "$D"
touch "$D/SitDown/v_SitDown_g01_c01.avi.part" "$D/SitDown/notes.txt"
expect_rc 0 "1 per class in 1 group over it with --force" "$GESTA" synth -q -n 1 -g 1 --seed 1 --force "$D"
n=$(find "$D" -name '*.avi' | wc -l)
[ "$n" -eq 6 ] && ok "--force removed the clips of the earlier dataset" || fail "$n videos, want 6"
[ ! -e "$D/SitDown/v_SitDown_g01_c01.avi.part" ] && ok "--force removed a stale .part" || fail ".part left"
[ -e "$D/SitDown/notes.txt" ] && ok "--force leaves other files alone" || fail "notes.txt removed"
cmp -s "$A/SitDown/v_SitDown_g01_c01.avi" "$D/SitDown/v_SitDown_g01_c01.avi" &&
  ok "rewritten in place: same bytes" || fail "--force rebuild differs"

echo "== errors"
expect_rc 2 "--groups 0" "$GESTA" synth --groups 0 "$TMP/e1"
expect_rc 2 "fewer videos than groups" "$GESTA" synth -n 1 -g 2 "$TMP/e2"
expect_output "every group needs at least one video" "says why"
expect_rc 2 "--test-groups = --groups" "$GESTA" synth -n 2 -g 2 --test-groups 2 "$TMP/e3"
expect_rc 2 "--seed -1" "$GESTA" synth --seed -1 "$TMP/e4"
expect_rc 2 "OUT_DIR under a regular file" "$GESTA" synth -n 1 -g 1 "$TMP/plainfile/out"
expect_output "gesta: error: cannot create $TMP/plainfile" "names the folder it cannot make"
expect_rc 2 "OUT_DIR is a file" "$GESTA" synth -n 1 -g 1 "$TMP/plainfile"
expect_output "is not a folder" "says it is not a folder"
mkdir -p "$TMP/noplugins"
expect_rc 2 "no GStreamer plugins" env GST_PLUGIN_SYSTEM_PATH_1_0="$TMP/noplugins" \
  GST_PLUGIN_PATH_1_0="$TMP/noplugins" GST_REGISTRY_1_0="$TMP/noplugins/registry.bin" \
  GST_REGISTRY="$TMP/noplugins/registry.bin" "$GESTA" synth -n 1 -g 1 "$TMP/e5"
expect_output "'avenc_mpeg4' (Debian package gstreamer1.0-libav)" "names the missing encoder and its package"
[ ! -e "$TMP/e5" ] && ok "nothing written without an encoder" || fail "$TMP/e5 was created"

echo "synth: $failures failure(s)"
[ $failures -eq 0 ]
