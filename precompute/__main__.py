"""``python -m precompute``: the command line (see :mod:`precompute.cli`)."""
import sys

from precompute.cli import main

sys.exit(main())
