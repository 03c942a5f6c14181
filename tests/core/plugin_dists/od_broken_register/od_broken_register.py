"""A plugin whose registration raises."""

import detective


@detective.hookimpl
def register_tools(register):
    raise RuntimeError("od_broken_register cannot find its model")
