"""Every tunable default and fixed text of the ``mysms`` command, in one place.

The library's own defaults live in :mod:`mysms_async._constants`; these are the command's: exit
statuses, how often progress is shown, how many problems are listed, what the sandbox pretends.
"""

from __future__ import annotations

from typing import Final

from .._config import ENV_PASSWORD, ENV_USERNAME
from .._table import DEFAULT_MAX_PARTS as DEFAULT_MAX_PARTS

EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130  # SIGINT; SIGTERM gives 143: 128 plus the signal's number

#: ``bulk``: after SIGINT or SIGTERM no more rows are read and the requests in flight may finish
#: for this many seconds; then (or at a second signal) they are cancelled and recorded as
#: ``unknown``. Short enough for ``docker stop``, which kills after 10 s.
SIGNAL_GRACE: Final = 5.0
#: ``bulk``: the results file is flushed to disk at least this often, so that even a run that
#: is killed outright (SIGKILL) leaves every outcome older than this on disk.
RESULTS_FLUSH_EVERY: Final = 1.0

#: The sandbox moves each message one state on per this many seconds (2 -> 3 -> 4), so ``wait``
#: has something to show, and answers each request this late, like a nearby server.
SANDBOX_DELIVERY_DELAY: Final = 0.4
SANDBOX_LATENCY: Final = 0.05
#: ``mysms emulator``: seconds per delivery step, unless --delivery-delay says otherwise.
EMULATOR_DELIVERY_DELAY: Final = 1.0

#: ``bulk`` and ``send``: a text that needs more SMS parts than this is refused (--max-parts).
DEFAULT_WAIT_TIMEOUT: Final = 300.0
DEFAULT_WAIT_INTERVAL: Final = 1.0
#: Seconds between two progress lines when stderr is not a terminal.
PLAIN_PROGRESS_EVERY: Final = 2.0
#: Seconds between two updates of the progress bar.
BAR_REFRESH_EVERY: Final = 0.1
#: ``campaign track``: seconds between two reads of the journal's counts for its progress.
TRACK_PROGRESS_EVERY: Final = 0.5
#: Problem rows reported one by one on stderr; the results file has every one of them.
MAX_ROWS_REPORTED: Final = 20
MAX_LINES_LISTED: Final = 10

CLI_EXTRA: Final = "pip install 'mysms-async[cli]'"
EMULATOR_EXTRA: Final = "pip install 'mysms-async[emulator]'"
AUTH_FAILED: Final = (
    "the gateway refused the username or password (request state -1): check"
    f" {ENV_USERNAME} and {ENV_PASSWORD}"
)
