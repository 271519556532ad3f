"""The report's histograms, drawn with matplotlib's Figure API (its Agg canvas: no display, no
pyplot state shared with anything else in the process)."""

from pathlib import Path


def histogram(path: Path, values: list[int], title: str, xlabel: str, line: int | None = None) -> None:
    """A histogram of `values` saved as PNG; `line` marks a limit (max_seq_len) with a vertical line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    axes.hist(values, bins=min(50, max(5, len(set(values)))), color="#4c72b0")
    if line is not None:
        over = sum(v > line for v in values)
        axes.axvline(line, color="#c44e52", linestyle="--", label=f"max_seq_len {line} ({over} over)")
        axes.legend()
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("examples")
    figure.tight_layout()
    figure.savefig(path)
