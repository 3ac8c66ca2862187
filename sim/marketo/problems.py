"""Problems in a Marketo export or API payload, each naming its file and where in it: a
line of a CSV (``export.csv:12``) or a JSON path (``campaigns.json: $.result[3].rules``).
An import lists every problem it finds and never shows a traceback for bad input."""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.frozen(kw_only=True)
class ExportProblem:
    """One thing wrong with one place of one file."""

    file: str  # as the user wrote the path
    where: str  # "12" (a CSV line) or "$.result[3].name" (a JSON path); "" for the whole file
    message: str  # what is wrong and how to fix it

    def __str__(self) -> str:
        if not self.where:
            return f"{self.file}: {self.message}"
        if self.where.startswith("$"):
            return f"{self.file}: {self.where}: {self.message}"
        return f"{self.file}:{self.where}: {self.message}"


class ExportError(Exception):
    """Raised with every problem found, so the user fixes them in one go."""

    def __init__(self, problems: Sequence[ExportProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
