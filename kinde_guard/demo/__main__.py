"""``python -m kinde_guard.demo``."""

import sys

from . import main

sys.exit(main())
