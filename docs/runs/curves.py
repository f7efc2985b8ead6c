"""Draws validation-loss curves of several `rnn train lm` runs into one SVG.

Usage: python3 docs/runs/curves.py OUT.svg LABEL=metrics.jsonl [LABEL=metrics.jsonl ...]
x: minutes of training (elapsed_s), y: validation loss in nats/char. Standard
library only, so it runs anywhere the docs are built.
"""
import json, sys

W, H, L, R, T, B = 720, 440, 70, 170, 30, 50
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22"]


def main():
    out, runs = sys.argv[1], []
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        pts = []
        for line in open(path):
            m = json.loads(line)
            if m.get("val_loss") is not None:
                pts.append((m["elapsed_s"] / 60.0, m["val_loss"]))
        runs.append((label, pts))
    xs = [x for _, p in runs for x, _ in p]
    ys = [y for _, p in runs for _, y in p]
    x1 = max(15.0, max(xs))
    y0, y1 = 1.4, min(2.2, max(ys))
    sx = lambda x: L + (W - L - R) * x / x1
    sy = lambda y: T + (H - T - B) * (y1 - min(max(y, y0), y1)) / (y1 - y0)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18">validation loss (nats/char) vs minutes of training</text>']
    for i in range(0, int(x1) + 1, 3):
        s.append(f'<line x1="{sx(i):.1f}" y1="{T}" x2="{sx(i):.1f}" y2="{H - B}" stroke="#eee"/>')
        s.append(f'<text x="{sx(i):.1f}" y="{H - B + 16}" text-anchor="middle">{i}</text>')
    y = y0
    while y <= y1 + 1e-9:
        s.append(f'<line x1="{L}" y1="{sy(y):.1f}" x2="{W - R}" y2="{sy(y):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{L - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.1f}</text>')
        y += 0.1
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">minutes</text>')
    for i, (label, pts) in enumerate(runs):
        c = COLORS[i % len(COLORS)]
        poly = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        s.append(f'<polyline points="{poly}" fill="none" stroke="{c}" stroke-width="2"/>')
        best = min(v for _, v in pts)
        s.append(f'<text x="{W - R + 10}" y="{T + 20 + 18 * i}" fill="{c}">{label} ({best:.4f})</text>')
    s.append("</svg>")
    open(out, "w").write("\n".join(s) + "\n")


if __name__ == "__main__":
    main()
