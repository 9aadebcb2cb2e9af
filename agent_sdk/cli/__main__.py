"""``python -m agent_sdk.cli``."""

import sys

from agent_sdk.cli import main

sys.exit(main())
