"""PNG bar charts of the results (matplotlib, Agg backend).

One PNG per workload group, one panel per unit, bars per engine; a log
scale where values span more than ``LOG_SPAN``×. Plus ``ratios.png``:
Pilum's ratio to the best other engine and to lance-stable for every row.
"""

from __future__ import annotations

import os
import textwrap
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from .report import ratio_rows  # noqa: E402
from .timing import Result  # noqa: E402

#: Chart file -> (title, workload kinds it shows).
GROUPS = {
    "write-size": ("Write throughput and size on disk", ("write",)),
    "scans": ("Scans", ("scans",)),
    "takes": ("Random takes", ("takes",)),
    "blobs-evolution-open": ("Blob fetch, add column, open after versions", ("blobs", "evolution", "open")),
    "rss": ("Peak memory (RSS)", ("rss",)),
    "cold": ("Open, then take or scan: page cache warm vs dropped", ("cold",)),
    "s3": ("Over S3 (moto behind a counting proxy): time, requests, MiB received", ("s3",)),
}
LOG_SPAN = 30
#: Space above the panels for the title (up to three lines) and the legend.
HEADER_INCHES = 1.1
ENGINE_COLORS = {
    "pilum": "#d62728", "lance-2.2": "#1f77b4", "lance-stable": "#6baed6",
    "parquet": "#2ca02c", "parquet-zstd": "#17becf", "parquet-small-pages": "#98df8a",
}


def _label(result: Result, width: int = 22) -> str:
    return "\n".join(textwrap.wrap(f"{result.dataset}: {result.workload}", width)[:4])


def _panel(axis, results: List[Result], engines: Sequence[str], unit: str) -> None:
    """Grouped bars: one group per (dataset, workload), one bar per engine."""
    keys: Dict[tuple, Dict[str, Result]] = {}
    for result in results:
        keys.setdefault((result.dataset, result.workload), {})[result.engine] = result
    width = 0.8 / max(1, len(engines))
    values = [r.value for r in results if r.value is not None and r.value > 0]
    for slot, engine in enumerate(engines):
        xs = [i + (slot - (len(engines) - 1) / 2) * width for i, row in enumerate(keys.values()) if engine in row]
        ys = [row[engine].value or 0.0 for row in keys.values() if engine in row]
        axis.bar(xs, ys, width, label=engine, color=ENGINE_COLORS.get(engine))
    if values and max(values) / min(values) > LOG_SPAN:
        axis.set_yscale("log")
        axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.yaxis.set_minor_formatter(NullFormatter())
    better = "higher" if results[0].higher_is_better else "lower"
    axis.set_ylabel(f"{unit} ({better} is better)")
    axis.set_xticks(range(len(keys)))
    axis.set_xticklabels([_label(next(iter(row.values()))) for row in keys.values()], fontsize=7)
    axis.grid(axis="y", alpha=0.3, which="both")


def group_chart(path: str, title: str, results: List[Result], engines: Sequence[str], subtitle: str) -> None:
    """One PNG: a panel per unit among `results`."""
    units: Dict[str, List[Result]] = {}
    for result in results:
        units.setdefault(result.unit, []).append(result)
    engines = [e for e in engines if any(r.engine == e and r.value is not None for r in results)]
    widest = max(len({(r.dataset, r.workload) for r in rs}) for rs in units.values())
    height = 3.8 * len(units) + HEADER_INCHES
    figure, axes = plt.subplots(len(units), 1, figsize=(max(8, 1.3 * widest + 2), height), squeeze=False)
    for axis, (unit, unit_results) in zip(axes[:, 0], units.items()):
        _panel(axis, unit_results, engines, unit)
    figure.suptitle(f"{title}\n{subtitle}", fontsize=10, y=1 - 0.1 / height, va="top")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=8, ncol=len(labels), loc="upper center",
                  bbox_to_anchor=(0.5, 1 - (HEADER_INCHES - 0.4) / height))
    figure.tight_layout()
    figure.subplots_adjust(top=1 - HEADER_INCHES / height)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def ratio_chart(path: str, results: List[Result], subtitle: str) -> bool:
    """Horizontal bars of Pilum's ratios (log scale, 1 = parity); False if there is nothing to plot."""
    rows = [row for row in ratio_rows(results) if row[2] is not None or row[3] is not None]
    if not rows:
        return False
    figure, axis = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.8))
    ys = range(len(rows))
    for offset, index, name, color in ((-0.2, 2, "vs best other", "#d62728"), (0.2, 3, "vs lance-stable", "#6baed6")):
        values = [row[index] for row in rows]
        axis.barh([y + offset for y in ys], [v or 0.0 for v in values], 0.4, label=name, color=color)
        for y, value in zip(ys, values):
            if value:
                axis.text(value, y + offset, f" {value:.2f}×", va="center", fontsize=6)
    axis.set_xscale("log")
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    axis.axvline(1.0, color="black", linewidth=0.8)
    axis.set_yticks(list(ys))
    axis.set_yticklabels([textwrap.shorten(f"{d}: {w}", 60, placeholder=" …") for d, w, _, _ in rows], fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel("Pilum ratio (> 1: Pilum better), log scale")
    axis.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"Pilum vs the others\n{subtitle}", fontsize=10)
    axis.grid(axis="x", alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _subtitle(results: List[Result], sizes: Dict[str, str]) -> str:
    """The sizes of the datasets that appear in `results`, e.g. "synthetic-1M: 1,000,000 rows"."""
    labels = dict.fromkeys(r.dataset for r in results)
    return textwrap.fill("; ".join(f"{label}: {sizes[label]}" for label in labels if label in sizes), 110)


def write_charts(directory: str, results: List[Result], engines: Sequence[str], sizes: Dict[str, str]) -> List[str]:
    """Writes every chart with data into `directory`; returns the paths written.

    `sizes` maps each dataset label to its size in words, for the titles.
    """
    os.makedirs(directory, exist_ok=True)
    written = []
    for name, (title, kinds) in GROUPS.items():
        selected = [r for r in results if r.kind in kinds]
        if not any(r.value is not None for r in selected):
            continue
        path = os.path.join(directory, f"{name}.png")
        group_chart(path, title, selected, engines, _subtitle(selected, sizes))
        written.append(path)
    path = os.path.join(directory, "ratios.png")
    if ratio_chart(path, results, _subtitle(results, sizes)):
        written.append(path)
    return written
