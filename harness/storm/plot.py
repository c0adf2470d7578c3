"""The storm's picture as SVG: stages finished over time (top), failures over time (bottom).

Hand-written: SVG is a few lines of text, and no plotting library is a dependency
of phonelab (matplotlib would add tens of MB for two line charts). Values come from
the summary's throughput timeline, so the plot shows exactly what the JSON says.
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, PANEL, MARGIN = 760, 220, 50
COLOURS = {"ctl": "#8c564b", "itl": "#1f77b4", "config": "#2ca02c", "defaults": "#7f7f7f",
           "tvs": "#9467bd", "https": "#ff7f0e", "register": "#17becf", "ok": "#2ca02c",
           "failed": "#d62728"}


def _polyline(values: list[int], top: float, scale: float, step: float, colour: str) -> str:
    points = " ".join(f"{MARGIN + i * step + step / 2:.1f},{top + PANEL - v * scale:.1f}"
                      for i, v in enumerate(values))
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'


def _axes(top: float, peak: int, buckets: int, width_s: float, title: str) -> list[str]:
    right = WIDTH - MARGIN
    parts = [f'<text x="{MARGIN}" y="{top - 8}" font-size="13">{escape(title)}</text>',
             f'<line x1="{MARGIN}" y1="{top + PANEL}" x2="{right}" y2="{top + PANEL}" '
             'stroke="black"/>',
             f'<line x1="{MARGIN}" y1="{top}" x2="{MARGIN}" y2="{top + PANEL}" stroke="black"/>',
             f'<text x="{MARGIN - 4}" y="{top + 10}" font-size="10" text-anchor="end">'
             f'{peak}</text>',
             f'<text x="{MARGIN - 4}" y="{top + PANEL}" font-size="10" text-anchor="end">0</text>',
             f'<text x="{right}" y="{top + PANEL + 14}" font-size="10" text-anchor="end">'
             f'{buckets * width_s:g} s</text>']
    return parts


def render_svg(summary: dict[str, Any]) -> str:
    flow = summary["throughput"]
    width_s: float = flow["bucket_s"]
    buckets = len(flow["ok"])
    step = (WIDTH - 2 * MARGIN) / max(1, buckets)
    stages: dict[str, list[int]] = flow["stages"]
    peak = max([1, *(max(v) for v in stages.values())])
    scale = PANEL / peak
    top1, top2 = 40.0, 40.0 + PANEL + 70
    height = int(top2 + PANEL + 60)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="sans-serif">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>']
    out += _axes(top1, peak, buckets, width_s,
                 f"stages finished per {width_s:g} s ({summary['phones']} phones)")
    for stage, values in stages.items():
        out.append(_polyline(values, top1, scale, step, COLOURS.get(stage, "black")))
    legend_x = MARGIN
    for stage in stages:
        out.append(f'<text x="{legend_x}" y="{top1 + PANEL + 30}" font-size="11" '
                   f'fill="{COLOURS.get(stage, "black")}">{escape(stage)}</text>')
        legend_x += 70
    fails: list[int] = flow["failed"]
    oks: list[int] = flow["ok"]
    peak2 = max([1, *fails, *oks])
    scale2 = PANEL / peak2
    out += _axes(top2, peak2, buckets, width_s,
                 f"phones done per {width_s:g} s: ok {summary['ok']}, "
                 f"failed {summary['failed']}")
    out.append(_polyline(oks, top2, scale2, step, COLOURS["ok"]))
    for i, v in enumerate(fails):
        if v:
            h = v * scale2
            out.append(f'<rect x="{MARGIN + i * step:.1f}" y="{top2 + PANEL - h:.1f}" '
                       f'width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS["failed"]}" opacity="0.7"/>')
    causes = list(summary["failures_by_cause"].items())[:3]
    text = "; ".join(f"{k} x{v}" for k, v in causes) or "no failures"
    out.append(f'<text x="{MARGIN}" y="{top2 + PANEL + 30}" font-size="11" '
               f'fill="{COLOURS["failed"]}">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
