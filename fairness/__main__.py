"""`python -m fairness`: the same command line as `fairness`."""

from .cli import main

main()
