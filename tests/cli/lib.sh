# Shared by the CLI tests: sourced after GESTA, SRC and TMP are set.
# Each check prints "ok: ..." or "FAIL: ..." and failures are counted; a
# test ends with `finish NAME`.
PY=/usr/bin/python3 # Debian's python3: the tests need nothing outside it
rm -rf "$TMP" && mkdir -p "$TMP"
failures=0
ok() { echo "ok: $1"; }
fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
}
# expect_rc WANT WHAT CMD...: runs CMD (output in $TMP/last.out) and checks
# its exit code.
expect_rc() {
  local want=$1 what=$2 rc
  shift 2
  "$@" >"$TMP/last.out" 2>&1
  rc=$?
  if [ $rc -eq "$want" ]; then
    ok "$what: exit $rc"
  else
    fail "$what: exit $rc (want $want); output:"
    cat "$TMP/last.out"
  fi
}
# expect_output TEXT WHAT: the last expect_rc's output contains TEXT.
expect_output() {
  if grep -qF -- "$1" "$TMP/last.out"; then
    ok "$2"
  else
    fail "$2 (no '$1' in:)"
    cat "$TMP/last.out"
  fi
}
