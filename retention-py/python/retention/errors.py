"""Exceptions raised by RetentionAI: one class per kind of error of the Rust core.

Every message is the core's own and names the column, row, value or file at fault; parameters
are written as keyword arguments (``cv=``) and operations as the methods that run them
(``Store.promote()``), while ``InvalidParameterError.name`` is the bare parameter name (``cv``).
File errors are Python's own ``FileNotFoundError``, ``PermissionError`` or ``OSError``.

>>> try:
...     model.score(df.drop("tenure"))
... except retention.ColumnNotFoundError as e:
...     print(e.column)
tenure
"""

from __future__ import annotations


class RetentionError(Exception):
    """Base of every RetentionAI error."""


class ColumnNotFoundError(RetentionError, KeyError):
    """A column the operation needs is not in the table (``.column`` names it)."""

    column: str

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidValueError(RetentionError, ValueError):
    """A cell does not hold what its column needs (``.column``, ``.row`` (1-based), ``.value``)."""

    column: str
    row: int
    value: str


class InvalidDataError(RetentionError, ValueError):
    """The table as a whole cannot be used (empty, one class only, an all-missing column…)."""


class MalformedFileError(RetentionError):
    """A file cannot be parsed in its format."""


class SchemaMismatchError(RetentionError):
    """The data does not fit the schema the model was trained with."""


class InvalidParameterError(RetentionError, ValueError):
    """An argument is out of range or inconsistent with another (``.name`` names it)."""

    name: str


class FeatureSpecError(RetentionError):
    """The derived-feature specification is wrong."""


class CorruptModelError(RetentionError):
    """A model file cannot be trusted: bad checksum, truncated, not a model."""


class UnsupportedFormatError(RetentionError):
    """A model file was written by a newer RetentionAI."""


class TrainingError(RetentionError):
    """Fitting a model failed."""


class RegistryError(RetentionError):
    """A registry operation was refused (gate failed, no champion, already the champion…)."""


class StoreError(RetentionError):
    """The operations database refused or failed."""


class ConfigError(RetentionError):
    """A configuration file or setting was refused; ``key`` names the setting (``app.data``)."""

    key: str = ""


class DataFrameError(RetentionError):
    """The data frame library reported an error not covered by another class."""


class RetentionWarning(UserWarning):
    """Something the user should know: unseen categories, duplicate ids, non-convergence."""


__all__ = [
    "ColumnNotFoundError",
    "ConfigError",
    "CorruptModelError",
    "DataFrameError",
    "FeatureSpecError",
    "InvalidDataError",
    "InvalidParameterError",
    "InvalidValueError",
    "MalformedFileError",
    "RegistryError",
    "RetentionError",
    "RetentionWarning",
    "SchemaMismatchError",
    "StoreError",
    "TrainingError",
    "UnsupportedFormatError",
]
