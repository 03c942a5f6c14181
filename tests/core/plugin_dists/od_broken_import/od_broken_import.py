"""A plugin that cannot be imported."""

raise ImportError("od_broken_import needs a library that is not installed")
