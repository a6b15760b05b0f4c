"""The error an integration raises when its framework is not installed."""

from __future__ import annotations


def missing(module: str, package: str, extra: str) -> ImportError:
    """An ImportError for `module` saying which extra brings `package`."""
    return ImportError(f"{module} needs {package}, which is not installed: pip install 'meterly[{extra}]'")
