"""``python -m journal.cli``: the same as the ``journal`` command."""

import sys

from ._entry import main

sys.exit(main())
