"""``python -m mysms_async``: the ``mysms`` command, for where the script is not on ``PATH``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
