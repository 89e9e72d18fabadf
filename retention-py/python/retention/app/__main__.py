"""``python -m retention.app``: the web app."""

import sys

from retention.app import main

sys.exit(main())
