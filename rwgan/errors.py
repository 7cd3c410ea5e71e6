"""The one exception type users see.

Every check on user input (files, masks, params, checkpoints) raises
:class:`RwganError` with a single-line message that names the offending file or
parameter and says what was expected.  Command-line entry points print it as
``error: <message>`` and exit with status 2, with no traceback.
"""


class RwganError(ValueError):
    """Bad input: a one-line, user-facing message naming the file or parameter."""
