"""Prometheus text format for the per-task families, written straight from the figures.

With 500 tasks the per-task families are some 18,000 samples; building a
prometheus-client ``Sample`` for each and rendering it with ``generate_latest`` cost
some 100 ms a scrape on its own (bench/metrics_scrape.py). These writers make the same
bytes ``generate_latest`` makes for the same family (labels in name order, values as
Go prints them; tests/unit/test_metrics_rollup.py compares the two) with one escape per
label value and one format per sample. The small families still go through
prometheus-client.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.utils import floatToGoString

from webapp.metrics.queries import Histogram

INF_LABEL = "+Inf"


def number(value: float) -> str:
    """A sample value as Go (and ``generate_latest``) prints it. Most are counts: for a
    whole number under a million that is ``"12.0"``, made here without the float round
    trip (floatToGoString switches to exponents from a million on)."""
    if type(value) is int and 0 <= value < 1_000_000:
        return f"{value}.0"
    return floatToGoString(value)


def escape(value: str) -> str:
    """A label value as the text format quotes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _header(name: str, mtype: str, doc: str) -> str:
    doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {mtype}\n"


def _labels(names: Sequence[str], values: Sequence[str]) -> list[tuple[str, str]]:
    return sorted(zip(names, (escape(v) for v in values)))


def _labelstr(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in pairs)


def simple(name: str, mtype: str, doc: str, labelnames: Sequence[str],
           rows: Iterable[tuple[Sequence[str], float]]) -> str:
    """A counter (``name`` without ``_total``) or gauge family, one sample per row."""
    sample = f"{name}_total" if mtype == "counter" else name
    out = [_header(sample, mtype, doc)]
    for values, value in rows:
        out.append(f"{sample}{{{_labelstr(_labels(labelnames, values))}}} {number(value)}\n")
    return "".join(out)


def histogram(name: str, doc: str, labelnames: Sequence[str], bounds: tuple[float, ...],
              series: Iterable[tuple[Sequence[str], Histogram]]) -> str:
    """A histogram family: per series its buckets, ``+Inf``, ``_count`` and ``_sum``."""
    les = [floatToGoString(b) for b in bounds] + [INF_LABEL]
    out = [_header(name, "histogram", doc)]
    for values, h in series:
        pairs = _labels(labelnames, values)
        # "le" sorts among the other labels as generate_latest sorts it.
        before = _labelstr(p for p in pairs if p[0] < "le")
        after = _labelstr(p for p in pairs if p[0] > "le")
        head = f"{name}_bucket{{{before + ',' if before else ''}le=\""
        tail = f"\"{',' + after if after else ''}}} "
        for le, n in zip(les, [*h.buckets, h.count]):
            out.append(f"{head}{le}{tail}{number(n)}\n")
        plain = _labelstr(pairs)
        braces = f"{{{plain}}}" if plain else ""
        out.append(f"{name}_count{braces} {number(h.count)}\n")
        out.append(f"{name}_sum{braces} {number(h.total)}\n")
    return "".join(out)
