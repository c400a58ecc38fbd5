"""``python -m simutrador``: the strategy runner (simutrador/cli.py)."""

import sys

from .cli import main

sys.exit(main())
