"""`python -m skce` (console script `skce`): the command line of skce.cli."""
import sys

from skce.cli import main

if __name__ == "__main__":
    sys.exit(main())
