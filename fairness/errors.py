"""The one error type users see.

A `FairnessError` carries a message that names the input, what was expected
and the fix. The CLI prints it on one line and exits with `exit_code`;
anything else escaping the library is a bug and shows a traceback.
"""

# Exit codes, documented in the README.
EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 3  # a comparison finished, but some of its models failed (marked in the report)
EXIT_INTERRUPTED = 130


class FairnessError(Exception):
    """Bad input from the user: a message for people, and an exit code."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
