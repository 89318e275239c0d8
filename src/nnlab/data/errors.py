"""Errors of the data layer. Each names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path

from nnlab.errors import DataError


class DataFormatError(DataError):
    """A file exists but is not what it should be (truncated, corrupt, wrong magic, bad CSV...)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class MissingDataError(DataError, FileNotFoundError):
    """A data set is not where it was looked for; the message lists exactly what to put where."""


class ChecksumError(DataError):
    """A downloaded or local file does not have the expected checksum."""
