"""Container health probe: `python -m cxplatform.healthcheck` exits 0 when /healthz is 200.

Sends the first ALLOWED_HOSTS name as Host (Django refuses other hosts) and marks the
request as HTTPS as a TLS-terminating proxy would, so no redirect interferes.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    host = (os.environ.get("ALLOWED_HOSTS") or "localhost").split(",")[0].strip()
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Host": host.lstrip("."), "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthz: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
