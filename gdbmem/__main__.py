"""`python -m gdbmem`: see gdbmem.cli."""

import sys

from gdbmem.cli import main

sys.exit(main())
