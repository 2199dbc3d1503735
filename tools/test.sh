#!/usr/bin/env bash
# The README's second command: installs what gesta needs, builds with warnings
# as errors and runs the whole test suite twice, plainly (build-test/) and
# under AddressSanitizer + UndefinedBehaviorSanitizer (build-sanitize/), then
# checks the formatting. Exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

failed=()
# stage NAME CMD...: runs CMD, remembers NAME when it fails.
stage() {
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  if "$@"; then
    return 0
  fi
  echo "=== FAILED: $name"
  failed+=("$name")
  return 1
}

suite() {
  local dir=$1
  shift
  stage "configure $dir" cmake -S . -B "$dir" -DGESTA_WERROR=ON "$@" &&
    stage "build $dir" cmake --build "$dir" -j2 &&
    stage "ctest $dir" bash -c "cd '$dir' && ctest --output-on-failure -j2"
}

suite build-test || true
if [ -f build-test/CMakeCache.txt ]; then
  stage "format check" cmake --build build-test --target format-check || true
fi
suite build-sanitize -DGESTA_SANITIZE=address,undefined || true

echo
if [ ${#failed[@]} -ne 0 ]; then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all passed (plain, sanitized, format)"
