"""`python -m compiler.cli`: the dsc command."""

import sys

from compiler.cli.main import main

sys.exit(main())
