"""metrics' tables, one module per concern: daily metric snapshots (snapshots.py) and
escalation flags between the teams (escalations.py)."""

from .escalations import *  # noqa: F403
from .snapshots import *  # noqa: F403
