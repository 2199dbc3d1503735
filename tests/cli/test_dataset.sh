#!/usr/bin/env bash
# gesta dataset build and info on a tiny synthetic dataset: the official
# split from the lists, a seeded random split, uint8 and float32 caches,
# skipped videos, and the errors: an empty folder, a class without a
# readable video, a model with other classes, truncated and foreign cache
# files.
# Usage: bash test_dataset.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

expect_rc 0 "dataset --help" "$GESTA" dataset --help
expect_output "Usage: gesta dataset" "--help shows the synopsis"
expect_rc 2 "dataset without an action" "$GESTA" dataset
expect_output "missing the action" "says what is missing"
expect_rc 2 "build without -m" "$GESTA" dataset build "$TMP"
expect_output "needs -m MODEL.yaml" "says -m is needed"

echo "== corrupt caches (no GStreamer needed to read one)"
printf 'not a cache at all, just some text that is long enough to fill a header %0300d\n' 0 >"$TMP/foreign.clips"
expect_rc 2 "a file with the wrong magic" "$GESTA" dataset info "$TMP/foreign.clips"
expect_output "wrong magic" "says the magic is wrong"
: >"$TMP/empty.clips"
expect_rc 2 "an empty file" "$GESTA" dataset info "$TMP/empty.clips"
expect_output "not a usable clip cache" "says it is not a cache"
expect_rc 2 "a missing cache" "$GESTA" dataset info "$TMP/missing.clips"

if ! "$GESTA" synth -n 2 -g 2 --no-progress "$TMP/data" >"$TMP/synth.out" 2>&1; then
  if grep -q "built without GStreamer" "$TMP/synth.out"; then
    ok "this gesta has no GStreamer: the rest is skipped"
    echo "dataset: $failures failure(s)"
    [ $failures -eq 0 ]
    exit
  fi
  fail "gesta synth:"
  cat "$TMP/synth.out"
fi
cat >"$TMP/tiny.yaml" <<YAML
gesta: 1
name: tiny
classes: [LowerArms, RaiseArms, SitDown, StandUp, WalkLeft, WalkRight]
input: {name: frames, shape: [4, 16, 16, 3]}
preprocess: {size: [16, 16], channels: bgr, scale: 0.00392156862745098, sampling: uniform, frames: 4}
layers:
  - {name: flatten, op: flatten}
  - {name: out, op: dense, units: 6, activation: softmax}
YAML

echo "== the official split"
expect_rc 0 "build" "$GESTA" dataset build "$TMP/data" -m "$TMP/tiny.yaml" -o "$TMP/a.clips"
expect_output "split trainlist01.txt/testlist01.txt (6 train, 0 val, 6 test)" "uses the lists"
expect_output "12 clips (6 train, 0 val, 6 test) of 4 frames" "summary line"
expect_output "0 videos skipped" "nothing skipped"
expect_output "gesta dataset: 12/12 " "a progress line per video when stderr is not a terminal"
expect_rc 0 "info" "$GESTA" dataset info "$TMP/a.clips" --list
expect_output "clips:   12 (6 train, 0 val, 6 test)" "info: counts"
expect_output "(4, 16, 16, 3), bgr" "info: clip shape"
expect_output "uint8" "info: uint8 storage by default"
expect_output "test SitDown SitDown/v_SitDown_g01_c01.avi" "info --list: split, class, source"
size=$(stat -c %s "$TMP/a.clips")
clip_bytes=$((12 * 4 * 16 * 16 * 3))
[ "$size" -gt $clip_bytes ] && [ "$size" -lt $((clip_bytes + 4096)) ] &&
  ok "uint8 cache: the clips plus small tables ($size bytes)" || fail "cache size $size"

expect_rc 0 "build float32" "$GESTA" dataset build "$TMP/data" -m "$TMP/tiny.yaml" -o "$TMP/f.clips" --float32 --no-progress
fsize=$(stat -c %s "$TMP/f.clips")
[ $((fsize - size)) -eq $((3 * 12 * 4 * 16 * 16 * 3)) ] && ok "float32: 4 bytes per value" || fail "float32 size $fsize vs $size"

echo "== a seeded random split, with validation"
expect_rc 0 "random split" "$GESTA" dataset build "$TMP/data" -m "$TMP/tiny.yaml" -o "$TMP/r1.clips" --split random --val 0.25 --seed 3 --no-progress
expect_output "random 75/25 (seed 3) (7 train, 2 val, 3 test)" "75/25 by video, a quarter of training for validation"
"$GESTA" dataset build "$TMP/data" -m "$TMP/tiny.yaml" -o "$TMP/r2.clips" --split random --val 0.25 --seed 3 --no-progress >/dev/null 2>&1
cmp -s "$TMP/r1.clips" "$TMP/r2.clips" && ok "same seed, same cache" || fail "same seed gave another cache"
"$GESTA" dataset build "$TMP/data" -m "$TMP/tiny.yaml" -o "$TMP/r3.clips" --split random --val 0.25 --seed 4 --no-progress >/dev/null 2>&1
"$GESTA" dataset info "$TMP/r1.clips" --list | grep -E "^(train|val|test) " >"$TMP/r1.list"
"$GESTA" dataset info "$TMP/r3.clips" --list | grep -E "^(train|val|test) " >"$TMP/r3.list"
cmp -s "$TMP/r1.list" "$TMP/r3.list" && fail "another seed gave the same split" || ok "another seed, another split"

echo "== corrupt and mismatched caches"
head -c $((size - 100)) "$TMP/a.clips" >"$TMP/cut.clips"
expect_rc 2 "a truncated cache" "$GESTA" dataset info "$TMP/cut.clips"
expect_output "truncated" "says it is truncated"
head -c 100 "$TMP/a.clips" >"$TMP/cut2.clips"
expect_rc 2 "a cache cut inside its header" "$GESTA" dataset info "$TMP/cut2.clips"
sed -e 's/name: tiny/name: other/' -e 's/WalkRight/Jump/' "$TMP/tiny.yaml" >"$TMP/other.yaml"
expect_rc 2 "a model with other classes" "$GESTA" dataset build "$TMP/data" -m "$TMP/other.yaml" -o "$TMP/o.clips"
expect_output "has classes [LowerArms RaiseArms SitDown StandUp WalkLeft Jump]" "lists the model's classes"
[ -e "$TMP/o.clips" ] && fail "a failed build left a cache" || ok "a failed build leaves no cache"

echo "== bad folders"
mkdir -p "$TMP/empty"
expect_rc 2 "an empty folder" "$GESTA" dataset build "$TMP/empty" -m "$TMP/tiny.yaml" -o "$TMP/e.clips"
expect_output "holds no class folders" "says there are no class folders"
expect_rc 2 "a missing folder" "$GESTA" dataset build "$TMP/nope" -m "$TMP/tiny.yaml" -o "$TMP/e.clips"
expect_output "does not exist" "says it does not exist"
# No lists (random split), one video that is not a video, one class whose
# only videos are broken.
mkdir -p "$TMP/bad"
for c in LowerArms RaiseArms SitDown StandUp WalkLeft WalkRight; do cp -r "$TMP/data/$c" "$TMP/bad/"; done
echo "not a video" >"$TMP/bad/SitDown/broken.avi"
expect_rc 0 "one unreadable video" "$GESTA" dataset build "$TMP/bad" -m "$TMP/tiny.yaml" -o "$TMP/b.clips"
expect_output "warning: skipped" "warns about it"
expect_output "broken.avi" "names it"
expect_output "1 video skipped" "counts it"
rm "$TMP"/bad/WalkLeft/*.avi
echo "junk" >"$TMP/bad/WalkLeft/v_WalkLeft_g01_c01.avi"
expect_rc 2 "a class with no readable video" "$GESTA" dataset build "$TMP/bad" -m "$TMP/tiny.yaml" -o "$TMP/b2.clips"
expect_output "class WalkLeft has no readable video (1 skipped)" "names the class"
[ -e "$TMP/b2.clips" ] && fail "a failed build left a cache" || ok "no cache left behind"
ls "$TMP" | grep -q "\.tmp\." && fail "a temporary file was left" || ok "no temporary file left"

echo "dataset: $failures failure(s)"
[ $failures -eq 0 ]
