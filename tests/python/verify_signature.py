#!/usr/bin/env python3
"""Verify clickhook's Standard Webhooks signatures with the independent `standardwebhooks`
package from PyPI (python3 -m pip install standardwebhooks).

Usage: python3 tests/python/verify_signature.py INPUT.json

INPUT.json:
    {"secret": "whsec_...",
     "requests": [{"headers": {"webhook-id": "...", "webhook-timestamp": "...",
                               "webhook-signature": "v1,... v1,..."},
                   "body": "<the raw body, exactly as sent>"}, ...]}

Prints one line per request, `ok <webhook-id>` or `FAIL <webhook-id>: <error>`, and exits 0
when every request verifies, 1 when any does not, 2 on bad usage or bad input. The package
refuses timestamps more than 5 minutes away from now, so produce the input just before.
"""
import inspect
import json
import sys

USAGE = "usage: python3 tests/python/verify_signature.py INPUT.json"


def usage_error(message):
    print(f"error: {message}", file=sys.stderr)
    print(USAGE, file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        usage_error(f"cannot read {path}: {e}")
    if not isinstance(doc, dict):
        usage_error("the input must be a JSON object")
    secret = doc.get("secret")
    if not isinstance(secret, str) or not secret:
        usage_error('"secret" must be a non-empty string ("whsec_...")')
    requests = doc.get("requests")
    if not isinstance(requests, list) or not requests:
        usage_error('"requests" must be a non-empty list')
    for i, r in enumerate(requests):
        if not isinstance(r, dict) or not isinstance(r.get("headers"), dict) or not isinstance(r.get("body"), str):
            usage_error(f'requests[{i}] must be {{"headers": {{...}}, "body": "<string>"}}')
    return secret, requests


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(argv) != 2:
        usage_error("expected exactly one argument")
    secret, requests = load(argv[1])

    try:
        from standardwebhooks import Webhook
    except ImportError:
        usage_error("the standardwebhooks package is not installed: python3 -m pip install standardwebhooks")

    try:
        webhook = Webhook(secret)
    except Exception as e:  # binascii.Error for bad base64, EmptyWebhookSecretError, ...
        usage_error(f'"secret" is not a usable webhook secret ({type(e).__name__}: {e})')

    # Check the signature only: do not also require the body to be JSON (json_parse appeared in 1.1).
    extra = {"json_parse": False} if "json_parse" in inspect.signature(Webhook.verify).parameters else {}

    failed = 0
    for r in requests:
        headers = {str(k): str(v) for k, v in r["headers"].items()}
        msg_id = next((v for k, v in headers.items() if k.lower() == "webhook-id"), "<no webhook-id>")
        try:
            webhook.verify(r["body"], headers, **extra)
        except Exception as e:  # WebhookVerificationError, or a malformed header the package trips on
            failed += 1
            print(f"FAIL {msg_id}: {type(e).__name__}: {e}", flush=True)
        else:
            print(f"ok {msg_id}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
