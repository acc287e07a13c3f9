"""`python -m musicrfm ...` runs the command line (same as the `musicrfm` script)."""

import sys

from musicrfm.cli.main import main

sys.exit(main())
