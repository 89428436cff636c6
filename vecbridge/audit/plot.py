"""Recall against latency as a picture: SVG written by hand (no dependency), PNG through matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from vecbridge.errors import InvalidArgumentError

#: one series: its label and (latency ms, recall, point label) points
Series = tuple[str, Sequence[tuple[float, float, str]]]

_WIDTH, _HEIGHT, _MARGIN = 720, 460, 70
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def write_plot(path: str | Path, title: str, series: Sequence[Series]) -> None:
    """Recall (y, 0-1) against p50 latency (x, ms) for each series, to ``.svg`` or ``.png``."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".svg":
        file.write_text(_svg(title, series))
    elif suffix == ".png":
        _png(file, title, series)
    else:
        raise InvalidArgumentError(f"--plot {file.name!r}: use a .svg or .png file name")


def _svg(title: str, series: Sequence[Series]) -> str:
    points = [p for _, pts in series for p in pts]
    top = max((p[0] for p in points), default=1.0) * 1.1 or 1.0
    low = min(min((p[1] for p in points), default=0.0), 0.9)
    floor = max(0.0, int(low * 10) / 10)

    def x(ms: float) -> float:
        return _MARGIN + ms / top * (_WIDTH - 2 * _MARGIN)

    def y(recall: float) -> float:
        return _HEIGHT - _MARGIN - (recall - floor) / (1.0 - floor or 1.0) * (_HEIGHT - 2 * _MARGIN)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" font-family="sans-serif">',
        f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>',
        f'<text x="{_WIDTH / 2}" y="30" text-anchor="middle" font-size="16">{escape(title)}</text>',
        f'<line x1="{_MARGIN}" y1="{_HEIGHT - _MARGIN}" x2="{_WIDTH - _MARGIN}" y2="{_HEIGHT - _MARGIN}" stroke="black"/>',
        f'<line x1="{_MARGIN}" y1="{_MARGIN}" x2="{_MARGIN}" y2="{_HEIGHT - _MARGIN}" stroke="black"/>',
        f'<text x="{_WIDTH / 2}" y="{_HEIGHT - 25}" text-anchor="middle" font-size="13">p50 latency (ms)</text>',
        f'<text x="20" y="{_HEIGHT / 2}" text-anchor="middle" font-size="13" '
        f'transform="rotate(-90 20 {_HEIGHT / 2})">recall@k</text>',
    ]
    for step in range(6):
        recall = floor + (1.0 - floor) * step / 5
        ms = top * step / 5
        parts.append(
            f'<text x="{_MARGIN - 8}" y="{y(recall) + 4}" text-anchor="end" font-size="11">{recall:.2f}</text>'
        )
        parts.append(
            f'<text x="{x(ms)}" y="{_HEIGHT - _MARGIN + 16}" text-anchor="middle" font-size="11">{ms:.2f}</text>'
        )
        parts.append(f'<line x1="{_MARGIN}" y1="{y(recall)}" x2="{_WIDTH - _MARGIN}" y2="{y(recall)}" stroke="#ddd"/>')
    for number, (label, pts) in enumerate(series):
        colour = _COLOURS[number % len(_COLOURS)]
        ordered = sorted(pts)
        if len(ordered) > 1:
            path = " ".join(f"{x(ms):.1f},{y(r):.1f}" for ms, r, _ in ordered)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for ms, recall, point in ordered:
            parts.append(f'<circle cx="{x(ms):.1f}" cy="{y(recall):.1f}" r="4" fill="{colour}"/>')
            parts.append(f'<text x="{x(ms) + 6:.1f}" y="{y(recall) - 6:.1f}" font-size="10">{escape(point)}</text>')
        legend_y = _MARGIN + 16 * number
        parts.append(f'<rect x="{_WIDTH - _MARGIN - 150}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{_WIDTH - _MARGIN - 135}" y="{legend_y}" font-size="11">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _png(file: Path, title: str, series: Sequence[Series]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidArgumentError("a PNG plot needs matplotlib (pip install matplotlib); .svg needs nothing") from None
    figure, axes = plt.subplots(figsize=(8, 5))
    for label, pts in series:
        ordered = sorted(pts)
        axes.plot([p[0] for p in ordered], [p[1] for p in ordered], marker="o", label=label)
        for ms, recall, point in ordered:
            axes.annotate(point, (ms, recall), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set_xlabel("p50 latency (ms)")
    axes.set_ylabel("recall@k")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(file, dpi=120)
    plt.close(figure)
