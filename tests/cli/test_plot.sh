#!/usr/bin/env bash
# gesta plot on histories written here by hand: both figures as valid PNGs
# of the expected size (IHDR read with Python's struct), -o and --size,
# history.json alone, missing values (NaN, empty, a run without
# validation), and every bad input with its exit code and message.
# Usage: bash test_plot.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"

if "$GESTA" plot "$TMP" 2>&1 | grep -q "without cairo"; then
  echo "skipped: gesta built without cairo (GESTA_GSTREAMER=OFF)"
  exit 77 # ctest reports it as skipped
fi

# png_size FILE: "W H" from the IHDR chunk, or "bad" when not a PNG.
png_size() {
  $PY - "$1" <<'PYEOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
ok = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
print("%d %d" % struct.unpack(">II", data[16:24]) if ok else "bad")
PYEOF
}
# expect_png FILE W H WHAT
expect_png() {
  if [ ! -f "$1" ]; then
    fail "$4: $1 missing"
  elif [ "$(png_size "$1")" = "$2 $3" ]; then
    ok "$4: $(basename "$1") is a ${2}x$3 PNG"
  else
    fail "$4: $1 is '$(png_size "$1")', want '$2 $3'"
  fi
}

HEADER=epoch,loss,accuracy,val_loss,val_accuracy,time_s,lr
mkdir -p "$TMP/run"
cat >"$TMP/run/history.csv" <<EOF
$HEADER
1,1.79,0.20,1.75,0.25,3.1,0.001
2,1.52,0.35,1.61,0.30,3.0,0.001
3,1.21,0.50,1.30,0.45,3.0,0.001
4,0.95,0.62,1.10,0.58,3.0,0.001
5,0.70,0.74,0.98,0.65,3.1,0.001
6,0.51,0.83,0.91,0.70,3.0,0.001
7,0.39,0.88,0.95,0.69,3.0,0.001
EOF
expect_rc 0 "plot a run folder" "$GESTA" plot "$TMP/run" -v
expect_png "$TMP/run/loss.png" 800 500 "default size"
expect_png "$TMP/run/accuracy.png" 800 500 "default size"
expect_output "wrote $TMP/run/loss.png" "names the files it wrote"
expect_output "best epoch 6 by val_loss" "best epoch from the lowest val_loss"

expect_rc 0 "-o and --size" "$GESTA" plot "$TMP/run/history.csv" -o "$TMP/figs" --size 640x480
expect_png "$TMP/figs/loss.png" 640 480 "-o into a new folder"
expect_png "$TMP/figs/accuracy.png" 640 480 "-o into a new folder"

# history.json alone, best epoch as the file says (early stopping on
# val_accuracy), values null where missing.
mkdir -p "$TMP/json"
cat >"$TMP/json/history.json" <<'EOF'
{"model": "lrcn", "monitor": "val_accuracy", "best_epoch": 2, "epochs": [
 {"epoch": 1, "loss": 1.7, "accuracy": 0.3, "val_loss": 1.6, "val_accuracy": 0.4, "time_s": 2, "lr": 0.001},
 {"epoch": 2, "loss": 1.1, "accuracy": 0.6, "val_loss": 1.2, "val_accuracy": 0.7, "time_s": 2, "lr": 0.001},
 {"epoch": 3, "loss": 0.8, "accuracy": 0.7, "val_loss": null, "val_accuracy": 0.6, "time_s": 2, "lr": 0.001}]}
EOF
expect_rc 0 "history.json alone" "$GESTA" plot "$TMP/json" -v
expect_png "$TMP/json/loss.png" 800 500 "from JSON"
expect_output "best epoch 2 by val_accuracy" "best epoch and monitor from history.json"

# Missing values: NaN, empty and "nan" make gaps; a run without
# validation draws the training curves alone.
mkdir -p "$TMP/nan" "$TMP/noval"
printf '%s\n1,1.5,0.3,nan,0.2,1,0.001\n2,NaN,0.4,1.4,,1,0.001\n3,1.0,0.5,1.2,0.5,1,0.001\n' "$HEADER" >"$TMP/nan/history.csv"
expect_rc 0 "NaN and empty values" "$GESTA" plot "$TMP/nan"
expect_png "$TMP/nan/loss.png" 800 500 "with NaN values"
printf '%s\n1,1.5,0.3,,,1,0.001\n2,1.2,0.4,,,1,0.001\n' "$HEADER" >"$TMP/noval/history.csv"
expect_rc 0 "a run without validation" "$GESTA" plot "$TMP/noval"
expect_png "$TMP/noval/accuracy.png" 800 500 "without validation"
# A CRLF file with the columns in another order and an extra one.
mkdir -p "$TMP/crlf"
printf 'lr,epoch,extra,loss,accuracy\r\n0.001,1,x1,1.5,0.3\r\n0.001,2,x2,1.2,0.4\r\n' >"$TMP/crlf/history.csv"
expect_rc 2 "a non-numeric extra column is still checked" "$GESTA" plot "$TMP/crlf"
expect_output "history.csv:2: column (unused): 'x1' is not a number" "names line and column"
printf 'lr,epoch,extra,loss,accuracy\r\n0.001,1,7,1.5,0.3\r\n0.001,2,8,1.2,0.4\r\n' >"$TMP/crlf/history.csv"
expect_rc 0 "CRLF, reordered and extra columns" "$GESTA" plot "$TMP/crlf"
expect_png "$TMP/crlf/loss.png" 800 500 "CRLF file"

# Bad input: exit 2 and a message that says what is wrong.
bad() { # bad WHAT MESSAGE ARGS...
  local what=$1 msg=$2
  shift 2
  expect_rc 2 "$what" "$GESTA" plot "$@"
  expect_output "$msg" "$what: says why"
}
mkdir -p "$TMP/empty" "$TMP/b"
bad "missing run folder" "does not exist" "$TMP/no-such-run"
bad "folder without a history" "has no history.csv or history.json" "$TMP/empty"
: >"$TMP/b/history.csv"
bad "empty CSV" "is empty" "$TMP/b"
echo "$HEADER" >"$TMP/b/history.csv"
bad "header only" "has no epochs yet" "$TMP/b"
printf '%s\n1,1.5,0.3,1.4,0.2,1,0.001\n2,abc,0.4,1.3,0.3,1,0.001\n' "$HEADER" >"$TMP/b/history.csv"
bad "garbled value" "history.csv:3: column loss: 'abc' is not a number" "$TMP/b"
printf '%s\n1,1.5,0.3\n' "$HEADER" >"$TMP/b/history.csv"
bad "short row" "history.csv:2: 3 values where the header has 7 columns" "$TMP/b"
printf '1,1.5,0.3,1.4,0.2,1,0.001\n' >"$TMP/b/history.csv"
bad "no header" "must be the header" "$TMP/b"
printf 'time,value\n1,2\n' >"$TMP/b/history.csv"
bad "not a history" "no 'epoch' column" "$TMP/b"
printf '%s\n2,1.5,0.3,1.4,0.2,1,0.001\n1,1.2,0.4,1.3,0.3,1,0.001\n' "$HEADER" >"$TMP/b/history.csv"
bad "epochs out of order" "is not a number greater than the one before" "$TMP/b"
printf '%s\n1,nan,nan,nan,nan,1,0.001\n2,,,,,1,0.001\n' "$HEADER" >"$TMP/b/history.csv"
bad "nothing but NaN" "no finite loss or accuracy value" "$TMP/b"
head -c 300 /dev/urandom >"$TMP/b/history.csv"
printf '\0' >>"$TMP/b/history.csv"
bad "binary file" "history.csv" "$TMP/b"
rm "$TMP/b/history.csv"
echo '{"epochs": [1, 2' >"$TMP/b/history.json"
bad "garbled JSON" "is not valid JSON" "$TMP/b"
echo '{"loss": [1, 2]}' >"$TMP/b/history.json"
bad "JSON without epochs" 'has no "epochs" array' "$TMP/b"
bad "bad --size" "--size wants WIDTHxHEIGHT" "$TMP/run" --size 10x10
bad "-o is a file" "is a file, not a folder" "$TMP/run" -o "$TMP/run/history.csv"
bad "no RUN_DIR" "missing RUN_DIR" 

echo "plot: $failures failure(s)"
[ $failures -eq 0 ]
