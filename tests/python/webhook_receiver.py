"""A webhook receiver that verifies every delivery with the `standardwebhooks` package (PyPI),
an implementation of the Standard Webhooks specification independent of tether's.

Listens on 127.0.0.1 (a free port, printed first as `listening on PORT`). The secrets to verify
with are read, one per line, from the file named by the first argument, again for every
request (a test writes the file after registering, and again after rotating the secret).
Each request prints one JSON line: the webhook-id, the body's type and data, and the indexes of
the secrets whose signature verified. It answers 204 when at least one verified, else 400.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRETS_FILE = sys.argv[1]
# Requests are served on threads: one line at a time.
PRINTING = threading.Lock()


def secrets():
    with open(SECRETS_FILE, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items()}
        verified_by = []
        errors = []
        for index, secret in enumerate(secrets()):
            try:
                Webhook(secret).verify(body, headers)
                verified_by.append(index)
            except WebhookVerificationError as err:
                errors.append(str(err))
        payload = json.loads(body)
        line = json.dumps(
            {
                "webhook_id": headers.get("webhook-id"),
                "signatures": len(headers.get("webhook-signature", "").split(" ")),
                "type": payload.get("type"),
                "timestamp": payload.get("timestamp"),
                "data": payload.get("data"),
                "verified_by": verified_by,
                "errors": errors,
            }
        )
        with PRINTING:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        self.send_response(204 if verified_by else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
