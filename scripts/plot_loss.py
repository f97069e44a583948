#!/usr/bin/env python3
"""Plots forma-train's loss.csv as an SVG (standard library only) or a PNG (matplotlib).

    python3 scripts/plot_loss.py runs/shakespeare/loss.csv [more/loss.csv ...] -o loss.svg
    python3 scripts/plot_loss.py runs/shakespeare/loss.csv -o loss.png   # needs matplotlib
                                 (Debian: apt-get install python3-matplotlib; or pip)

One line per file (the loss per step, and its exponential moving average when --smooth > 0), the
learning rate as a dashed line against the right axis of the first file. Prints the first and
last loss of each run.
"""
import argparse
import csv
import html
import sys

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "loss" not in rows[0]:
        sys.exit(f"plot_loss: {path}: not a forma-train loss.csv (step,loss,lr,grad_norm,tokens_per_s)")
    return [int(r["step"]) for r in rows], [float(r["loss"]) for r in rows], [float(r["lr"]) for r in rows]


def ema(values, alpha):
    out, m = [], None
    for v in values:
        m = v if m is None else alpha * m + (1 - alpha) * v
        out.append(m)
    return out


def png(runs, args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_loss: a .png needs matplotlib (apt-get install python3-matplotlib); .svg needs nothing")
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    ax2 = ax.twinx()
    for i, (path, st, lo, lr) in enumerate(runs):
        c = COLORS[i % len(COLORS)]
        ax.plot(st, lo, color=c, alpha=0.35 if args.smooth > 0 else 1.0, linewidth=1)
        if args.smooth > 0:
            ax.plot(st, ema(lo, args.smooth), color=c, linewidth=2, label=path)
        else:
            ax.lines[-1].set_label(path)
        if i == 0:
            ax2.plot(st, lr, color="gray", linestyle="--", linewidth=1)
        print(f"{path}: steps {st[0]}..{st[-1]}, loss {lo[0]:.4f} -> {lo[-1]:.4f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax2.set_ylabel("lr (dashed)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"wrote {args.output}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="+")
    ap.add_argument("-o", "--output", default="loss.svg")
    ap.add_argument("--smooth", type=float, default=0.9, help="EMA factor (0 = off), default 0.9")
    args = ap.parse_args()
    runs = [(p, *read(p)) for p in args.csv]
    if args.output.endswith(".png"):
        return png(runs, args)
    W, H, L, R, T, B = 800, 480, 70, 70, 30, 50
    steps = [s for r in runs for s in r[1]]
    losses = [v for r in runs for v in r[2]]
    x0, x1 = min(steps), max(max(steps), min(steps) + 1)
    y0, y1 = min(losses), max(losses)
    if y1 - y0 < 1e-12:
        y1 = y0 + 1
    lr_max = max(runs[0][3]) or 1.0

    def x(s):
        return L + (s - x0) / (x1 - x0) * (W - L - R)

    def y(v, lo=y0, hi=y1):
        return T + (1 - (v - lo) / (hi - lo)) * (H - T - B)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
             f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for i in range(6):
        v = y0 + (y1 - y0) * i / 5
        s = x0 + (x1 - x0) * i / 5
        parts.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        parts.append(f'<text x="{x(s):.1f}" y="{H - B + 18}" text-anchor="middle">{s:.0f}</text>')
        parts.append(f'<text x="{W - R + 6}" y="{y(lr_max * i / 5, 0, lr_max) + 4:.1f}">{lr_max * i / 5:.2g}</text>')
    parts.append(f'<text x="{(W) / 2}" y="{H - 12}" text-anchor="middle">step</text>')
    parts.append(f'<text x="14" y="{T - 10}">loss</text><text x="{W - R}" y="{T - 10}">lr (dashed)</text>')
    for i, (path, st, lo, lr) in enumerate(runs):
        c = COLORS[i % len(COLORS)]
        pts = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in zip(st, lo))
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-opacity="{0.35 if args.smooth > 0 else 1}" points="{pts}"/>')
        if args.smooth > 0:
            pts = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in zip(st, ema(lo, args.smooth)))
            parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>')
        if i == 0:
            pts = " ".join(f"{x(s):.1f},{y(v, 0, lr_max):.1f}" for s, v in zip(st, lr))
            parts.append(f'<polyline fill="none" stroke="gray" stroke-dasharray="4 3" points="{pts}"/>')
        parts.append(f'<text x="{L + 10}" y="{T + 16 * (i + 1)}" fill="{c}">{html.escape(path)}</text>')
        print(f"{path}: steps {st[0]}..{st[-1]}, loss {lo[0]:.4f} -> {lo[-1]:.4f}")
    parts.append("</svg>\n")
    with open(args.output, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
