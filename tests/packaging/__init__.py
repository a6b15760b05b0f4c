"""Slow tests of the built package: wheel contents, clean installs, and the lowest supported versions."""
