"""`python -m fipbench` runs the command line of fipbench.cli."""

import sys

from fipbench.cli import main

sys.exit(main())
