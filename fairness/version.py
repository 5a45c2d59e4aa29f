"""The version, in a module of its own: the results cache keys on it, and importing the package
for it would import everything."""

__version__ = "0.1.0"  # as pyproject.toml's version
