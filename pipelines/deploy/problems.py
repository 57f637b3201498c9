"""What every check returns: a list of problems, each naming where it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    where: str  # a file, a rendered resource (``overlay: Kind/name``), or a rule
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"
