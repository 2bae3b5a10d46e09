"""Turns the QR code that `devicelogin login` draws with half blocks back into an image.

Each text line holds two module rows: U+2588 (both light), U+2580 (top light), U+2584 (bottom
light), space (both dark); light modules are drawn as blocks. The code is the longest run of
consecutive lines made only of those characters (after the indent). Writes a binary PBM scaled up
8x with dark modules black, which zbarimg reads.
    python3 qr_from_screen.py SCREEN.txt OUT.pbm
Exit 1 when no block drawing of at least 10 lines is found.
"""
import sys

BLOCKS = {"\u2588": (0, 0), "\u2580": (0, 1), "\u2584": (1, 0), " ": (1, 1)}  # 1 = dark


def main() -> int:
    screen_path, out_path = sys.argv[1], sys.argv[2]
    with open(screen_path, encoding="utf-8") as screen:
        lines = [line.rstrip("\n") for line in screen]
    best, run = [], []
    for line in lines + [""]:
        body = line.strip(" ")
        if body and all(c in BLOCKS for c in body) and "\u2588" in body:
            run.append(line)
        else:
            if len(run) > len(best):
                best = run
            run = []
    if len(best) < 10:
        return 1
    indent = min(len(line) - len(line.lstrip(" ")) for line in best)
    width = max(len(line) for line in best) - indent
    rows = []
    for line in best:
        cells = line[indent:].ljust(width)
        rows.append([BLOCKS.get(c, (1, 1))[0] for c in cells])
        rows.append([BLOCKS.get(c, (1, 1))[1] for c in cells])
    scale, margin = 8, 4  # a light margin around the drawing's own quiet zone
    height = len(rows)
    out_w, out_h = (width + 2 * margin) * scale, (height + 2 * margin) * scale
    bits = []
    for y in range(out_h):
        row_bits = []
        for x in range(out_w):
            mx, my = x // scale - margin, y // scale - margin
            row_bits.append(rows[my][mx] if 0 <= mx < width and 0 <= my < height else 0)
        bits.append(row_bits)
    with open(out_path, "wb") as out:
        out.write(f"P4\n{out_w} {out_h}\n".encode())
        for row_bits in bits:
            packed = bytearray()
            for i in range(0, out_w, 8):
                byte = 0
                for bit in row_bits[i:i + 8]:
                    byte = (byte << 1) | bit
                byte <<= 8 - len(row_bits[i:i + 8])
                packed.append(byte)
            out.write(bytes(packed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
