#!/usr/bin/env python
"""Django's command-line utility for CX Platform."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
    from cxplatform.env import ConfigError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        # A bad environment variable: one line, no traceback.
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
