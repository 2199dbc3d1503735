#!/usr/bin/env bash
# Installs the Debian packages gesta's build and tests need, only those that
# are missing. Debian 12 or later (or a derivative with apt).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# The one list of what gesta needs from Debian.
PACKAGES=(
  build-essential cmake pkg-config # compiler and build
  libyaml-dev libcjson-dev         # model YAML, safetensors JSON header
  libopenblas-dev                  # CPU matrix products (CBLAS)
  libcmocka-dev clang-format       # unit tests, format check
  ocl-icd-opencl-dev opencl-headers libclblast-dev pocl-opencl-icd clinfo # OpenCL backend
  oclgrind                                                                # 2nd OpenCL platform in tests
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev                    # video pipeline
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  libcairo2-dev                                                           # synthetic dataset drawing
  python3 python3-numpy python3-opencv python3-h5py python3-yaml          # test scripts, goldens, Keras import, peer benchmark
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: this script needs a Debian system (dpkg-query, apt-get)." >&2
  echo "install-deps: install these packages or their equivalents by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}; run this script as root or install sudo" >&2
    exit 1
  fi
  SUDO=(sudo env DEBIAN_FRONTEND=noninteractive)
fi

echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
