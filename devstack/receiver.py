"""`python -m devstack.receiver`: a webhook receiver for trying reelstream out. It verifies each delivery's
Standard Webhooks signature with the dev stack's secret and prints one line per event; a delivery whose
signature does not verify is refused (400) and said so.

    .venv/bin/python -m devstack.receiver            # on 127.0.0.1:8787, the dev stack's secret
    .venv/bin/reelstream submit "a red fox" --webhook-url http://127.0.0.1:8787/ --wait
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reelstream.webhooks.messages import WebhookVerificationError, verify

DEFAULT_PORT = 8787
MAX_BODY_BYTES = 1 << 20


def describe(body: Mapping[str, Any]) -> str:
    """One line for a verified event: its type and what it says of the job."""
    data = body.get("data") or {}
    kind = str(body.get("type", "?"))
    if not kind.startswith("job."):
        return f"{kind:<14} {json.dumps(data, sort_keys=True)}"
    parts = [f"job {data.get('id')}", f"status {data.get('status')}"]
    if data.get("progress") is not None:
        parts.append(f"progress {float(data['progress']):.0%}")
    if (data.get("error") or {}).get("code"):
        parts.append(f"error {data['error']['code']}")
    if data.get("artifact"):
        parts.append(f"video {data['artifact'].get('bytes')} bytes")
    return f"{kind:<14} " + ", ".join(parts)


def handler_for(secret: str, say: Callable[[str], None]) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("content-length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length)
            stamp = time.strftime("%H:%M:%S")
            try:
                verify(secret, dict(self.headers.items()), body, now=int(time.time()))
                event = json.loads(body)
            except (WebhookVerificationError, ValueError) as exc:
                say(f"{stamp} refused a delivery: {exc}")
                self.send_response(400)
                self.end_headers()
                return
            say(f"{stamp} ✓ {describe(event)}   (signature verified, id {self.headers.get('webhook-id')})")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None  # one line per event is printed above; no access log

    return Receiver


def serve(port: int, secret: str, say: Callable[[str], None]) -> ThreadingHTTPServer:
    """The receiver bound to 127.0.0.1:`port` (0: any free port); the caller runs serve_forever()."""
    return ThreadingHTTPServer(("127.0.0.1", port), handler_for(secret, say))


def dev_secret_file(env: Mapping[str, str]) -> Path:
    from devstack.manager import StackLayout

    return StackLayout.dev(env).data_dir / "webhook-secret"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.receiver", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--secret-file", help="the signing secret's file (default: the dev stack's)")
    args = parser.parse_args(argv)
    path = Path(args.secret_file) if args.secret_file else dev_secret_file(os.environ)
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        print(f"no webhook secret: {exc} (run `make dev` first, or pass --secret-file)", file=sys.stderr)
        return 2
    server = serve(args.port, secret, lambda line: print(line, flush=True))
    print(f"receiving webhooks on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
