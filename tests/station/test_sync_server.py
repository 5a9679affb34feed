"""A real registry for the station's sync tests, run in a child process (no tests here).

Why a child process: the registry's and the station's SQLModel tables share SQLAlchemy's
default metadata and both have a ``certificate`` table, so the two apps cannot be imported
into one interpreter. The child does what the tests need, with the registry's own parts:
``sync.registry.create_app`` on a SQLite file, ``registry init`` and ``registry stations add``
through the app's CLI runner, and ``werkzeug.serving.make_server`` serving on a loopback port
in a thread. It then takes commands on stdin, one JSON object per line, and answers one JSON
line each:

* ``{"cli": [args…]}`` — run a ``registry`` CLI command (``revoke``, ``message``,
  ``banks publish``, ``log verify`` …) → ``{"exit_code", "output"}``;
* ``{"stop": true}`` / ``{"start": true}`` — stop or restart serving on the same port
  (the registry "goes down" and "comes back");
* ``{"fail_pushes_with": [record ids], "status": 500}`` — from now on answer every push that
  carries one of these records with that status (a record the registry cannot process);
  ``[]`` ends it. ``{"pushes": true}`` → how many pushes arrived, with how many records each;
* ``{"quit": true}``.

Run as ``python -m tests.station.test_sync_server INSTANCE_DIR STATION_CODE``.
"""

from __future__ import annotations

import json
import sys
import threading


def _serve(app, port: int):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class PushFaults:
    """WSGI middleware in front of the registry: fails pushes that carry certain records."""

    def __init__(self, app):
        self.app, self.ids, self.status, self.sizes = app, set(), 500, []

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/api/v1/sync/push":
            return self.app(environ, start_response)
        import io

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            ids = {r.get("id") for r in json.loads(body).get("records", [])}
        except (ValueError, AttributeError):
            ids = set()
        self.sizes.append(len(ids))
        if ids & self.ids:
            payload = json.dumps({"error": "internal", "message": "injected failure"}).encode()
            start_response(f"{self.status} Injected", [("Content-Type", "application/json"),
                                                      ("Content-Length", str(len(payload)))])  # fmt: skip
            return [payload]
        return self.app(environ, start_response)


def main(instance: str, station_code: str) -> None:
    from sync.registry import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{instance}/registry.db"},
                     instance_path=instance)  # fmt: skip
    runner = app.test_cli_runner()

    def cli(args: list[str]) -> dict:
        result = runner.invoke(args=args)
        output = result.output
        if result.exception and not isinstance(result.exception, SystemExit):
            output += f"\n{type(result.exception).__name__}: {result.exception}"
        return {"exit_code": result.exit_code, "output": output}

    setup = [cli(["init"]), cli(["stations", "add", station_code, "--name", "测试站点",
                                 "--city", "北京市"])]  # fmt: skip
    if any(r["exit_code"] for r in setup):
        print(json.dumps({"error": setup}), flush=True)
        return
    lines = [line.strip() for line in setup[1]["output"].splitlines()]
    token = lines[next(i for i, t in enumerate(lines) if t.startswith("enrollment token")) + 1]
    faults = PushFaults(app.wsgi_app)
    app.wsgi_app = faults
    server = _serve(app, 0)
    port = server.server_port
    print(json.dumps({"url": f"http://127.0.0.1:{port}", "token": token}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if "cli" in command:
            answer = cli(command["cli"])
        elif command.get("stop"):
            if server is not None:
                server.shutdown()
                server.server_close()
                server = None
            answer = {"ok": True}
        elif command.get("start"):
            server = server or _serve(app, port)
            answer = {"ok": True}
        elif "fail_pushes_with" in command:
            faults.ids, faults.status = set(command["fail_pushes_with"]), command.get("status", 500)
            answer = {"ok": True}
        elif command.get("pushes"):
            answer = {"sizes": faults.sizes}
        else:
            break
        print(json.dumps(answer, ensure_ascii=False), flush=True)
    if server is not None:
        server.shutdown()
    app.extensions["registry_engine"].dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
