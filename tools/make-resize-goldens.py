#!/usr/bin/python3
"""Writes tests/data/resize-goldens.bin: frames resized by OpenCV.

gesta's preprocessing must resize exactly as the seed did, with
cv2.resize(frame, (W, H)) (INTER_LINEAR on 8-bit images). This script makes
small source images from a formula that tests/test_video.c reproduces, resizes
them with OpenCV and stores only the results, so the goldens stay small.

Run with Debian's python3 (packages python3-opencv, python3-numpy):
    /usr/bin/python3 tools/make-resize-goldens.py [OUTPUT]

File layout (little-endian): the 8 bytes "GRSZGLD1", an int32 case count,
then per case six int32 (src_width, src_height, channels, dst_width,
dst_height, pattern) followed by dst_height*dst_width*channels bytes
(row-major, channels interleaved).
"""
import os
import struct
import sys

import cv2
import numpy as np

# (src_w, src_h, channels, dst_w, dst_h, pattern): pattern 0 is noise (the
# hardest case for rounding), 1 a smooth gradient.
CASES = [
    (7, 5, 3, 3, 2, 0),  # odd sizes, downscale
    (320, 240, 3, 64, 64, 0),  # UCF101's frame size to the seed's input
    (320, 240, 3, 64, 64, 1),
    (33, 17, 3, 64, 64, 0),  # upscale, odd
    (1, 1, 3, 64, 64, 0),  # a 1x1 video
    (50, 37, 1, 64, 64, 0),  # grayscale
    (128, 96, 3, 64, 48, 0),  # exactly half: OpenCV's area fast path
    (64, 64, 3, 64, 64, 0),  # same size: a copy
    (5, 7, 3, 13, 2, 0),  # up in x, down in y
    (640, 360, 3, 64, 64, 1),  # high resolution
    (641, 359, 1, 64, 64, 0),
    (1, 9, 3, 4, 3, 0),
]


def pattern(w, h, c, kind):
    """Must match golden_source() in tests/test_video.c."""
    y, x, k = np.meshgrid(np.arange(h, dtype=np.uint64),
                          np.arange(w, dtype=np.uint64),
                          np.arange(c, dtype=np.uint64), indexing="ij")
    if kind == 1:
        return ((x * 255 // max(w - 1, 1) + y * 3 + k * 40) % 256).astype(np.uint8)
    m = np.uint64(0xFFFFFFFF)
    v = (x * np.uint64(73856093)) ^ (y * np.uint64(19349663)) ^ (k * np.uint64(83492791))
    v &= m
    v ^= v >> np.uint64(13)
    v = (v * np.uint64(0x5BD1E995)) & m
    v ^= v >> np.uint64(15)
    return (v & np.uint64(255)).astype(np.uint8)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(
        here, "..", "tests", "data", "resize-goldens.bin"))
    blob = bytearray(b"GRSZGLD1")
    blob += struct.pack("<i", len(CASES))
    for sw, sh, c, dw, dh, kind in CASES:
        src = pattern(sw, sh, c, kind)
        if c == 1:
            src = src[:, :, 0]
        dst = cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR)
        dst = np.ascontiguousarray(dst.reshape(dh, dw, c))
        blob += struct.pack("<6i", sw, sh, c, dw, dh, kind)
        blob += dst.tobytes()
    with open(out, "wb") as f:
        f.write(blob)
    print("%s: %d cases, %d bytes (OpenCV %s)" % (out, len(CASES), len(blob),
                                                  cv2.__version__))


if __name__ == "__main__":
    main()
