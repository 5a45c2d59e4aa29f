"""The command line as the tests call it: one home for invoking it and for the bad-input contract."""

from click.testing import CliRunner

from fairness.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line_exit_2(r, expected: str) -> None:
    """Bad input: exit 2 and one line on stderr, `error: ...`, that contains `expected`."""
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and expected in line
