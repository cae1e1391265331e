#!/usr/bin/python3
"""figcheck.py FILE [RGB_HEX ...]: checks that FILE is a valid PNG (decoded: chunks, CRCs, zlib stream, filters) or
SVG (an XML document whose root is <svg>) and prints its width, height and, for a PNG, the number of pixels of each
colour given (e.g. 1f77b4, the first curve's). Exit 1 with a message if the file is not a valid figure.
Only the Python standard library: the tests must not need PIL."""
import struct, sys, zlib
import xml.etree.ElementTree as ET


def png(path, colours):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG (bad signature)")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) != crc:
            sys.exit(f"{path}: bad CRC in chunk {kind}")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    if not ihdr:
        sys.exit(f"{path}: no IHDR")
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {2: 3, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        sys.exit(f"{path}: unexpected PNG layout (depth {depth}, colour type {ctype}, interlace {interlace})")
    raw = zlib.decompress(idat)
    stride = w * channels
    if len(raw) != h * (stride + 1):
        sys.exit(f"{path}: pixel data has {len(raw)} bytes, expected {h * (stride + 1)}")
    prev = bytearray(stride)
    counts = {c: 0 for c in colours}
    want = {bytes.fromhex(c): c for c in colours}
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif f != 0:
                sys.exit(f"{path}: bad filter {f} on row {y}")
        if want:
            for x in range(w):
                px = bytes(line[x * channels:x * channels + 3])
                if px in want:
                    counts[want[px]] += 1
        prev = line
    print(w, h, *(counts[c] for c in colours))


def svg(path):
    root = ET.parse(path).getroot()
    if not root.tag.endswith("svg"):
        sys.exit(f"{path}: root element is {root.tag}, not svg")
    print(root.get("width") or root.get("viewBox", "?"), sum(1 for _ in root.iter()))


if __name__ == "__main__":
    path = sys.argv[1]
    try:
        svg(path) if path.lower().endswith(".svg") else png(path, sys.argv[2:])
    except (OSError, ET.ParseError, zlib.error, struct.error) as e:
        sys.exit(f"{path}: {e}")
