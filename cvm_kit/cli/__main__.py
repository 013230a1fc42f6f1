"""``python -m cvm_kit.cli``: the ``cvm`` command."""

import sys

from . import main

sys.exit(main())
