"""The report: one Markdown table per dataset, and the raw results as JSON.

Cells are medians, with the min–max over the runs in parentheses. "pilum vs best other" divides the best other engine's
value by Pilum's (or the reverse for higher-is-better units), so a ratio
above 1 always means Pilum is better; "pilum vs lance-stable" does the same
against Lance's default format. "n/a": the engine has no such operation;
"–" with a footnote: it failed; "–" alone: not measured (e.g. its write failed).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .timing import Result

REFERENCE = "pilum"
BASELINE = "lance-stable"


def format_value(value: float) -> str:
    """A compact number: 3 significant digits, no exponent below a million."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_cell(result: Result) -> str:
    """The median, and its min–max over the runs when there were several and they differ."""
    show = (lambda v: f"{v:g}") if result.unit == "requests" else format_value
    text = show(result.value)
    if result.low is not None and result.high is not None and show(result.low) != show(result.high):
        text += f" ({show(result.low)}–{show(result.high)})"
    return text


def ratio(reference: Result, other: Result) -> Optional[float]:
    """How many times better `reference` is than `other` (> 1: reference better)."""
    if reference.value is None or other.value is None or reference.value <= 0 or other.value <= 0:
        return None
    return reference.value / other.value if reference.higher_is_better else other.value / reference.value


def best_other(row: Dict[str, Result]) -> Optional[Result]:
    """The best non-Pilum result in a row (highest or lowest value by unit)."""
    others = [r for engine, r in row.items() if engine != REFERENCE and r.value is not None and r.value > 0]
    if not others:
        return None
    pick = max if others[0].higher_is_better else min
    return pick(others, key=lambda r: r.value)


def pivot(results: Iterable[Result]) -> "OrderedDict[str, OrderedDict[str, Dict[str, Result]]]":
    """dataset -> workload -> engine -> result, in the order the results were recorded."""
    table: "OrderedDict[str, OrderedDict[str, Dict[str, Result]]]" = OrderedDict()
    for result in results:
        table.setdefault(result.dataset, OrderedDict()).setdefault(result.workload, {})[result.engine] = result
    return table


def ratio_rows(results: List[Result]) -> List[Tuple[str, str, Optional[float], Optional[float]]]:
    """(dataset, workload, vs best other, vs lance-stable) for every row with a Pilum value."""
    rows = []
    for dataset, workloads in pivot(results).items():
        for workload, row in workloads.items():
            reference = row.get(REFERENCE)
            if reference is None or reference.value is None:
                continue
            best = best_other(row)
            baseline = row.get(BASELINE)
            rows.append((dataset, workload, best and ratio(reference, best), baseline and ratio(reference, baseline)))
    return rows


def _ratio_cell(value: Optional[float], against: Optional[str] = None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}×" + (f" ({against})" if against else "")


def _dataset_table(workloads: "OrderedDict[str, Dict[str, Result]]", engines: List[str]) -> List[str]:
    lines = ["| workload | unit | runs | " + " | ".join(engines) + f" | pilum vs best other | pilum vs {BASELINE} |",
             "|---|---|---:|" + "---:|" * len(engines) + "---:|---:|"]
    failures: List[str] = []
    missing: "OrderedDict[str, str]" = OrderedDict()
    for workload, row in workloads.items():
        cells = []
        for engine in engines:
            result = row.get(engine)
            if result is None:
                cells.append("–")
            elif result.value is not None:
                cells.append(format_cell(result))
            elif result.error and result.error.startswith("n/a"):
                cells.append("n/a")
                missing.setdefault(f"{engine}: {result.error[5:]}", None)
            else:
                failures.append(f"{engine}, {workload}: {result.error}")
                cells.append(f"– [{len(failures)}]")
        measured = [r for r in row.values() if r.value is not None]
        unit = next(iter(row.values())).unit
        counts = sorted({r.runs for r in measured})
        runs = f"{counts[0]}–{counts[-1]}" if len(counts) > 1 else "".join(map(str, counts))
        reference, best, baseline = row.get(REFERENCE), best_other(row), row.get(BASELINE)
        vs_best = _ratio_cell(reference and best and ratio(reference, best), best.engine if best else None)
        vs_baseline = _ratio_cell(reference and baseline and ratio(reference, baseline))
        lines.append(f"| {workload} | {unit} | {runs} | " + " | ".join(cells) + f" | {vs_best} | {vs_baseline} |")
    lines += [""] + [f"- [{n}] failed: {text}" for n, text in enumerate(failures, 1)]
    lines += ["- n/a: " + "; ".join(missing)] if missing else []
    return lines


def render_markdown(results: List[Result], meta: Dict[str, Any], datasets: Dict[str, str], notes: List[str],
                    engines: List[str], charts: List[str]) -> str:
    """The whole report as Markdown."""
    lines = ["# Pilum vs Lance vs Parquet: side-by-side benchmark", ""]
    lines += [f"- **{key}**: {value}" for key, value in meta.items()] + [""]
    lines += ["Values are medians (min–max over the runs); ratios above 1 mean Pilum is better "
              "(faster, smaller, fewer requests or less memory).", ""]
    tables = sorted(pivot(results).items(), key=lambda item: item[0].startswith("rss"))  # RSS last, else as run
    for dataset, workloads in tables:
        lines += [f"## {dataset}", "", datasets.get(dataset, ""), ""]
        lines += _dataset_table(workloads, engines) + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    if charts:
        lines += ["## Charts", ""] + [f"- `{path}`" for path in charts] + [""]
    return "\n".join(lines)


def write_outputs(markdown_path: str, json_path: str, markdown: str, payload: Dict[str, Any]) -> None:
    """Writes the Markdown report and the JSON results, creating directories as needed."""
    for path in (markdown_path, json_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(markdown_path, "w") as handle:
        handle.write(markdown)
    with open(json_path, "w") as handle:
        json.dump(payload, handle, indent=1, default=str)
