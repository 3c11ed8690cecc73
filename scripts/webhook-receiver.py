#!/usr/bin/env python3
"""A tiny webhook receiver for trying clickhook out: prints every POST and answers 200.

Usage: python3 scripts/webhook-receiver.py [PORT]   (default 9000, listens on 127.0.0.1)
"""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print(f"POST {self.path}  webhook-id: {self.headers.get('webhook-id')}")
        try:
            print(json.dumps(json.loads(body), indent=2))
        except ValueError:
            print(body.decode(errors="replace"))
        sys.stdout.flush()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
print(f"listening on http://127.0.0.1:{port}")
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
