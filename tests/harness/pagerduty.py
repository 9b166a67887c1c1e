"""A receiver for PagerDuty's Events API v2 on loopback: each POSTed event is checked against
the documented schema (python3-jsonschema); a valid one is kept (one JSON file each, in order)
and answered 202 as PagerDuty does, an invalid one 400 with the schema's complaint."""
import http.server
import json
import os
import sys

import jsonschema

port, store, schema_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
schema = json.load(open(schema_file))
validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
os.makedirs(store, exist_ok=True)


class Events(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = json.loads(body)
            errors = [e.message for e in validator.iter_errors(event)]
        except ValueError as e:
            event, errors = None, ["not JSON: %s" % e]
        if errors:
            code, answer = 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        else:
            n = len(os.listdir(store))
            with open(os.path.join(store, "%04d.json" % n), "w") as f:
                json.dump(event, f)
            code, answer = 202, {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key", "")}
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Events).serve_forever()
