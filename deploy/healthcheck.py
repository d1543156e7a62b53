"""Container health check: GET /healthz on this container's app server.

Exit 0 on 200, 1 otherwise (503 names what is down; see quickcommerce/views.py).
The request carries a Host the app accepts (the first usable ALLOWED_HOSTS
entry), because with DEBUG off Django answers 400 to any other Host.
Standard library only: it runs in the image's Python, every few seconds.
"""

import os
import sys
import urllib.error
import urllib.request


def host_header() -> str:
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")
        if entry and "*" not in entry:
            return entry
    return "localhost"


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host_header()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a fixed http URL
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        print(f"healthz: {status} {error.read()[:200].decode(errors='replace')}", file=sys.stderr)
    except OSError as error:
        print(f"healthz: {error}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
