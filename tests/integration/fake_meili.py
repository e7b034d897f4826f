"""A small stand-in for a Meilisearch server (standard library only), implementing just
what search/meili.py calls on the write path: create/delete/swap indexes, settings
and synonyms, add documents, delete by ``id IN [...]`` filter, tasks (always already done) and stats.
It can be stopped and started again on the same port to play an outage."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeMeili:
    def __init__(self, port: int):
        self.port = port
        self.indexes: dict[str, dict[int, dict]] = {}
        self.synonyms: dict[str, dict] = {}
        self.tasks: dict[int, dict] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

            def _send(self, status: int, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?")[0]
                if m := re.fullmatch(r"/tasks/(\d+)", path):
                    task = fake.tasks.get(int(m.group(1)))
                    return self._send(
                        200 if task else 404,
                        task or {"message": "no task", "code": "task_not_found"},
                    )
                if m := re.fullmatch(r"/indexes/([^/]+)/stats", path):
                    docs = fake.indexes.get(m.group(1), {})
                    return self._send(
                        200,
                        {
                            "numberOfDocuments": len(docs),
                            "isIndexing": False,
                            "fieldDistribution": {},
                        },
                    )
                if path == "/health":
                    return self._send(200, {"status": "available"})
                return self._send(
                    404, {"message": f"not implemented: GET {path}", "code": "not_found"}
                )

            def do_POST(self):
                path, body = self.path.split("?")[0], self._body()
                if path == "/indexes":
                    uid = body["uid"]
                    with fake.lock:
                        error = (
                            None if uid not in fake.indexes else {"code": "index_already_exists"}
                        )
                        fake.indexes.setdefault(uid, {})
                    return self._send(202, fake.task(uid, "indexCreation", error))
                if m := re.fullmatch(r"/indexes/([^/]+)/documents", path):
                    with fake.lock:
                        docs = fake.indexes.setdefault(m.group(1), {})
                        for doc in body:
                            docs[int(doc["id"])] = doc
                    return self._send(202, fake.task(m.group(1), "documentAdditionOrUpdate"))
                if m := re.fullmatch(r"/indexes/([^/]+)/documents/delete", path):
                    ids = [int(x) for x in re.findall(r"\d+", (body or {}).get("filter", ""))]
                    with fake.lock:
                        docs = fake.indexes.setdefault(m.group(1), {})
                        for i in ids:
                            docs.pop(i, None)
                    return self._send(202, fake.task(m.group(1), "documentDeletion"))
                if path == "/swap-indexes":
                    with fake.lock:
                        for pair in body:
                            a, b = pair["indexes"]
                            fake.indexes[a], fake.indexes[b] = (
                                fake.indexes.get(b, {}),
                                fake.indexes.get(a, {}),
                            )
                    return self._send(202, fake.task(None, "indexSwap"))
                return self._send(
                    404, {"message": f"not implemented: POST {path}", "code": "not_found"}
                )

            def do_PATCH(self):
                path = self.path.split("?")[0]
                self._body()
                if m := re.fullmatch(r"/indexes/([^/]+)/settings", path):
                    return self._send(202, fake.task(m.group(1), "settingsUpdate"))
                return self._send(
                    404, {"message": f"not implemented: PATCH {path}", "code": "not_found"}
                )

            def do_PUT(self):
                path = self.path.split("?")[0]
                body = self._body()
                if m := re.fullmatch(r"/indexes/([^/]+)/settings/synonyms", path):
                    with fake.lock:
                        fake.synonyms[m.group(1)] = body
                    return self._send(202, fake.task(m.group(1), "settingsUpdate"))
                return self._send(
                    404, {"message": f"not implemented: PUT {path}", "code": "not_found"}
                )

            def do_DELETE(self):
                path = self.path.split("?")[0]
                if m := re.fullmatch(r"/indexes/([^/]+)", path):
                    with fake.lock:
                        gone = fake.indexes.pop(m.group(1), None)
                    return self._send(
                        202,
                        fake.task(
                            m.group(1),
                            "indexDeletion",
                            None if gone is not None else {"code": "index_not_found"},
                        ),
                    )
                return self._send(
                    404, {"message": f"not implemented: DELETE {path}", "code": "not_found"}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def task(self, index_uid: str | None, kind: str, error: dict | None = None) -> dict:
        """Record a task, already finished, and answer as Meilisearch does on enqueueing."""
        now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        with self.lock:
            uid = len(self.tasks)
            self.tasks[uid] = {
                "uid": uid,
                "indexUid": index_uid,
                "status": "failed" if error else "succeeded",
                "type": kind,
                "details": {},
                "error": error,
                "duration": "PT0S",
                "enqueuedAt": now,
                "startedAt": now,
                "finishedAt": now,
            }
        return {
            "taskUid": uid,
            "indexUid": index_uid,
            "status": "enqueued",
            "type": kind,
            "enqueuedAt": now,
        }

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None

    def documents(self, uid: str = "listings") -> dict[int, dict]:
        with self.lock:
            return dict(self.indexes.get(uid, {}))
