"""Arguments for a pytest run that a test starts, so that it loads the plugins a user's project would: the
meterly plugin (by its entry point) and the ones named, not the rest of the development environment.

The development environment installs eight more plugins (xdist, hypothesis, schemathesis, ...). A run in
a fresh process imports each of them and rewrites the asserts of their packages, which takes most of its
time; none of them is what these runs test.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import List


def only_these_plugins(*distributions: str) -> List[str]:
    """`-p no:<name>` for every installed pytest11 entry point but meterly's and `distributions`'."""
    kept = {"meterly", *distributions}
    blocked: List[str] = []
    for entry_point in entry_points(group="pytest11"):
        if entry_point.dist is None or entry_point.dist.name not in kept:
            blocked += ["-p", f"no:{entry_point.name}"]
    return blocked
