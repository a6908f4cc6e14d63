"""Markdown tables for the reports a run writes (`report.md`, `ablation.md`, the quickstart summary)."""


def markdown_table(header, rows, align=None):
    """A Markdown table.

    Args:
        header: the column titles.
        rows: one sequence of cells per row (each cell formatted with `str`).
        align: per column, `"left"` or `"right"` (default: every column left-aligned as Markdown's `---`).

    Returns:
        The table's lines joined by newlines (no trailing newline).

    Example:
    >>> print(markdown_table(["metric", "value"], [["accuracy", "0.99"]], align=["left", "right"]))
    | metric | value |
    |---|---:|
    | accuracy | 0.99 |
    """
    marks = {"left": "---", "right": "---:"}
    rule = [marks[a] for a in align] if align else ["---"] * len(header)
    lines = ["| " + " | ".join(str(cell) for cell in header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
