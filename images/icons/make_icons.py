#!/usr/bin/env python3
"""Generate the 128x128 PNG icons of the demo images (stdlib only).

The PNGs are committed next to this script so image builds are reproducible;
rerun it only to change the artwork:  python3 images/icons/make_icons.py
"""

import math
import struct
import zlib
from pathlib import Path

SIZE = 128
SS = 4  # supersampling per axis (anti-aliasing)


def png_bytes(pixels):
    """pixels: list of rows, each a list of (r, g, b, a) tuples."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return (
            struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8 bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def render(shade):
    """shade(x, y) -> (r, g, b, a) or None (transparent), x/y in [0, 128)."""
    rows = []
    for py in range(SIZE):
        row = []
        for px in range(SIZE):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(SS):
                for sx in range(SS):
                    c = shade(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS)
                    if c is not None:
                        a = c[3] / 255.0
                        acc[0] += c[0] * a
                        acc[1] += c[1] * a
                        acc[2] += c[2] * a
                        acc[3] += a
            n = SS * SS
            alpha = acc[3] / n
            if alpha > 0:
                rgb = [round(v / acc[3]) for v in acc[:3]]
            else:
                rgb = [0, 0, 0]
            row.append((*rgb, round(alpha * 255)))
        rows.append(row)
    return rows


def in_rounded_rect(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x < x1 and y0 <= y < y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def webapp(x, y):
    """Blue tile with a white globe."""
    if not in_rounded_rect(x, y, 4, 4, 124, 124, 22):
        return None
    bg = (30, 111, 217, 255)
    white = (255, 255, 255, 255)
    cx, cy, r = 64.0, 64.0, 40.0
    d = math.hypot(x - cx, y - cy)
    w = 3.2  # line width
    if abs(d - r) <= w:
        return white
    if d < r:
        # equator and two parallels
        for yy in (cy, cy - 20, cy + 20):
            if abs(y - yy) <= w / 2 + 0.3:
                return white
        # central meridian and two meridian ellipses
        if abs(x - cx) <= w / 2 + 0.3:
            return white
        for rx in (17.0,):
            e = math.hypot((x - cx) / rx, (y - cy) / r)
            if abs(e - 1.0) * rx <= w / 2 + 0.3:
                return white
    return bg


def desktop(x, y):
    """Slate tile with a monitor showing a terminal prompt."""
    if not in_rounded_rect(x, y, 4, 4, 124, 124, 22):
        return None
    bg = (45, 62, 80, 255)
    frame = (220, 226, 232, 255)
    screen = (18, 22, 28, 255)
    green = (80, 220, 120, 255)
    # stand
    if 56 <= x < 72 and 90 <= y < 102:
        return frame
    if in_rounded_rect(x, y, 40, 100, 88, 106, 3):
        return frame
    # monitor
    if in_rounded_rect(x, y, 18, 24, 110, 92, 6):
        if 24 <= x < 104 and 30 <= y < 86:
            # prompt ">" : two thick diagonal strokes
            if 34 <= x <= 50 and 42 <= y <= 74:
                t = abs(y - 58)  # 0 at tip
                if abs((x - 34) - (16 - t)) <= 3.2:
                    return green
            # cursor "_"
            if 56 <= x < 76 and 68 <= y < 74:
                return green
            return screen
        return frame
    return bg


def main():
    here = Path(__file__).resolve().parent
    for name, shade in (("webapp-128.png", webapp), ("desktop-128.png", desktop)):
        out = here / name
        out.write_bytes(png_bytes(render(shade)))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
