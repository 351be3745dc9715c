"""``python -m journal``: the same as the ``journal`` command."""

import sys

from ._entry import main

sys.exit(main())
