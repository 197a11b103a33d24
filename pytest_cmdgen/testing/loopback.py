"""The HTTP server class both loopback servers use, sized for the concurrency the plugin itself generates."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog holds a burst of concurrent connections.

    The standard library's backlog of 5 resets connections when many conversations call at once
    (``Connection reset by peer``); 1024 matches what real servers (uvicorn, nginx) accept.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


__all__ = ["LoopbackHTTPServer"]
