"""pytest collects ``examples/`` (see pyproject's testpaths) for runnable checks, but not the plugin example.

``examples/plugin-example`` is a separate distribution whose tests need it installed: ``tests/examples`` installs
it into a private site directory and runs its tests in a subprocess (as a plugin author would run them).
"""

collect_ignore = ["plugin-example"]
