"""`python -m fairness ...`: the same command line as the `fairness` script, for an environment
whose scripts folder is not on PATH (a venv used by its python alone)."""

from .cli import main

main(prog_name="fairness")
