"""Consensus by majority vote: pure functions over plain results, no database.

Each function takes the results of the annotators of one task and returns an `Aggregate`: the final
result, the agreement (share of annotators who agree with it, 0..1) and whether the vote was tied.
Better aggregators (weighted vote, Dawid-Skene) plug in through `AGGREGATORS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


@dataclass(frozen=True)
class Aggregate:
    result: Result | None
    agreement: float
    is_tie: bool = False
    tied: tuple[str, ...] = ()


def majority_single(results: Sequence[Result]) -> Aggregate:
    """The most frequent label; a tie at the top gives no label and lists the tied ones."""
    counts = Counter(r["label"] for r in results)
    if not counts:
        return Aggregate(None, 0.0)
    ranked = counts.most_common()
    top = ranked[0][1]
    tied = tuple(sorted(label for label, n in ranked if n == top))
    agreement = top / len(results)
    if len(tied) > 1:
        return Aggregate({"label": None, "tied": list(tied)}, agreement, is_tie=True, tied=tied)
    return Aggregate({"label": ranked[0][0]}, agreement)


def _majority_of_items(
    results: Sequence[Result], key: str, item_key: Callable[[Any], Any]
) -> tuple[list[Any], float]:
    n = len(results)
    counts: Counter[Any] = Counter()
    examples: dict[Any, Any] = {}
    for result in results:
        for item in {item_key(i): i for i in result[key]}.values():
            k = item_key(item)
            counts[k] += 1
            examples.setdefault(k, item)
    kept = [examples[k] for k, c in counts.items() if c * 2 > n]
    # Agreement: how many annotators gave exactly the kept set.
    kept_keys = {item_key(i) for i in kept}
    exact = sum(1 for r in results if {item_key(i) for i in r[key]} == kept_keys)
    return kept, exact / n if n else 0.0


def majority_multi(results: Sequence[Result]) -> Aggregate:
    """Each label that more than half of the annotators chose."""
    kept, agreement = _majority_of_items(results, "labels", lambda label: label)
    order = {
        label: i for i, label in enumerate(dict.fromkeys(x for r in results for x in r["labels"]))
    }
    return Aggregate({"labels": sorted(kept, key=order.__getitem__)}, agreement)


def majority_spans(results: Sequence[Result]) -> Aggregate:
    """Each exact span (start, end, label) that more than half of the annotators marked."""
    kept, agreement = _majority_of_items(
        results, "spans", lambda s: (s["start"], s["end"], s["label"])
    )
    kept.sort(key=lambda s: (s["start"], s["end"]))
    return Aggregate({"spans": kept}, agreement)


def iou(a: Result, b: Result) -> float:
    """Intersection over union of two {x, y, w, h} boxes."""
    ix = max(0.0, min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]))
    iy = max(0.0, min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]))
    inter = ix * iy
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0


def majority_boxes(results: Sequence[Result], threshold: float = 0.5) -> Aggregate:
    """Cluster same-label boxes by IoU; keep clusters drawn by more than half, at their median box."""
    n = len(results)
    clusters: list[list[tuple[int, Result]]] = []
    for who, result in enumerate(results):
        for box in result["boxes"]:
            best, best_iou = None, threshold
            for cluster in clusters:
                if cluster[0][1]["label"] != box["label"] or any(w == who for w, _ in cluster):
                    continue
                score = iou(cluster[0][1], box)
                if score >= best_iou:
                    best, best_iou = cluster, score
            if best is None:
                clusters.append([(who, box)])
            else:
                best.append((who, box))
    kept = []
    for cluster in clusters:
        if len(cluster) * 2 > n:
            boxes = [b for _, b in cluster]
            median = {k: sorted(b[k] for b in boxes)[len(boxes) // 2] for k in ("x", "y", "w", "h")}
            kept.append({**median, "label": boxes[0]["label"]})
    kept.sort(key=lambda b: (b["y"], b["x"]))
    agreeing = sum(
        1
        for who in range(n)
        if all(any(w == who for w, _ in c) for c in clusters if len(c) * 2 > n)
    )
    return Aggregate({"boxes": kept}, agreeing / n if n else 0.0)


AGGREGATORS: dict[str, Callable[[Sequence[Result]], Aggregate]] = {
    "single_label": majority_single,
    "multi_label": majority_multi,
    "ner": majority_spans,
    "bbox": majority_boxes,
}


def aggregate(task_type: str, results: Sequence[Result]) -> Aggregate:
    """Aggregate the annotators' results of one task by majority vote for its task type."""
    return AGGREGATORS[task_type](results)
