"""A WSGI app that does nothing: the HTTP floor of a server and client, without Dealerflow.

``bench_journey`` serves it with the same gunicorn options as the product and times the
same HTTP clients against it, so the run shows how much of an instance's time any
application on this machine would pay before doing any work.
"""

BODY = b'{"status":"ok"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", HEADERS)
    return [BODY]
