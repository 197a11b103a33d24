"""The HTTP server class both loopback servers use, sized for the concurrency the plugin itself generates."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog holds a burst of concurrent connections.

    The standard library's backlog of 5 resets connections when many conversations call at once
    (``Connection reset by peer``); 1024 matches what real servers (uvicorn, nginx) accept.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is no error of the server's; anything else is."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


__all__ = ["LoopbackHTTPServer"]
