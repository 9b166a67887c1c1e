"""The app the deploy tests ship: serves /health on the port from shared/app.conf, answering
with its version, or 500 when it is a bad build (a BAD file in the release, or its version in
$BAD_VERSIONS)."""
import http.server
import os

here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(os.path.dirname(os.path.dirname(here)), "shared")
conf = {}
with open(os.path.join(shared, "app.conf")) as f:
    for line in f:
        if "=" in line:
            k, v = line.strip().split("=", 1)
            conf[k] = v
version = open(os.path.join(here, "VERSION")).read().strip()
bad = os.path.exists(os.path.join(here, "BAD")) or version in os.environ.get("BAD_VERSIONS", "").split()


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if bad:
            code, body = 500, "broken build %s" % version
        else:
            code, body = 200, "version=%s greeting=%s" % (version, conf.get("greeting", ""))
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(conf["port"])), Health).serve_forever()
