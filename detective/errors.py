"""Errors shared across the core's rooms, defined below all of them so that any room can raise them."""


class SettingsError(ValueError):
    """A setting that cannot be read. The message names its variable, or its file and key; never a key's value."""
