"""The package version, read by hatchling and sent in the user-agent."""

__version__ = "0.1.0"
