"""Recall–latency chart and markdown table from a ``vector_ann.py --out`` JSON file.

    python3 benches/python/vector_ann_chart.py benches/python/vector-ann-200k.json benches/charts/vector-ann-200k.png
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main() -> None:
    source, chart = sys.argv[1], sys.argv[2]
    with open(source) as f:
        results = json.load(f)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_engine = defaultdict(list)
    for p in results["points"]:
        by_engine[p["engine"]].append(p)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for engine, points in by_engine.items():
        points = sorted(points, key=lambda p: p["p50_ms"])
        ax.scatter([p["p50_ms"] for p in points], [p["recall"] for p in points], label=engine, s=14)
        # The Pareto front: the best recall reached at each latency.
        front, best = [], -1.0
        for p in points:
            if p["recall"] > best:
                best = p["recall"]
                front.append(p)
        ax.plot([p["p50_ms"] for p in front], [p["recall"] for p in front], linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("median latency per query from Python (ms, log scale)")
    ax.set_ylabel("recall@10")
    ax.set_title(f"Vector indices, {results['rows']:,} x {results['dim']}-d ({results['partitions']} partitions, {results['sub_vectors']} PQ sub-vectors)")
    ax.axhline(0.95, color="grey", linewidth=0.5, linestyle="--")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(chart, dpi=120)
    print(f"| engine | fastest setting with recall@10 ≥ 0.95 | recall | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for engine, points in by_engine.items():
        good = [p for p in points if p["recall"] >= 0.95]
        if not good:
            print(f"| {engine} | none reaches 0.95 | | | |")
            continue
        p = min(good, key=lambda p: p["p50_ms"])
        print(f"| {engine} | {p['setting']} | {p['recall']:.3f} | {p['p50_ms']:.3f} | {p['p99_ms']:.3f} |")


if __name__ == "__main__":
    main()
