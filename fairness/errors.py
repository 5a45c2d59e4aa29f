"""The error types users see.

A `FairnessError` carries a message that names the input, what was expected
and the fix. The CLI prints it on one line and exits with `exit_code`;
anything else escaping the library is a bug and shows a traceback.

`ModelFailed` is a model's own failure (its output is NaN or inf, the proposed
model or the baseline of a comparison could not be measured), not the user's
bad input: it is its own type, so callers can tell the two apart, and exits 3.
Measured with others, a failed model is recorded as failed and the others go on.
"""

# Exit codes, documented in the README.
EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 3  # some models failed (a comparison that finished marks them in the report)
EXIT_INTERRUPTED = 130


def brief(e: BaseException, limit: int = 200) -> str:
    """An exception as one short line: its type (a worker process's error names its own) and the
    first line of its message, for a failure recorded beside results that went on."""
    text = str(e).strip()
    return f"{getattr(e, 'remote_type', type(e).__name__)}: {text.splitlines()[0][:limit] if text else ''}"


class FairnessError(Exception):
    """Bad input from the user: a message for people, and an exit code."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ModelFailed(FairnessError):
    """A model failed (not the user's input): one line, exit 3; alone among others, recorded as failed."""

    exit_code = EXIT_SOME_FAILED
