"""The access log without query strings: URLs may carry phone numbers, logs may not."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request, response, time):
        self.logger.info("%s %s %s %d %.1fms", request.remote, request.method, request.path,
                         response.status, time * 1000)
