"""Errors shared across the core's rooms, defined below all of them so that any room can raise them."""

from typing import Any


class SettingsError(ValueError):
    """A setting that cannot be read. The message names its variable, or its file and key; never a key's value."""


#: What a value must be, by pydantic error type, in the words a setting's error message uses.
_EXPECTED = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_type": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "a list",
    "string_type": "text",
    "greater_than": "more than {gt}",
    "greater_than_equal": "at least {ge}",
}


def expected_value(error: Any) -> str:
    """What one pydantic validation error says the value must be ("a whole number", "at least 1" …)."""
    expected = _EXPECTED.get(error["type"], error["msg"].removeprefix("Input should be ").lower())
    for key, value in (error.get("ctx") or {}).items():
        expected = expected.replace("{" + key + "}", str(value))
    return expected
