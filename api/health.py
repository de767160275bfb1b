"""`GET /healthz`: 200 when the database answers and can be written; the journal's state.

A load balancer takes a process whose database cannot be written out of rotation (503).
The detail tells an operator what is waiting: webhooks journaled while the database was
away (`journal_pending`, replayed by themselves) and entries the database refused and
that were set aside for a person (`dead_letters`, in `dead_letter_file`).
"""

from __future__ import annotations

import logging

from aiohttp import web

from ivr.platform.health import write_problem
from ivr.platform.resources import JOURNAL, READER, SETTINGS

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    problem = await write_problem(url=app[SETTINGS].database_url, sessions=app[READER])
    body: dict = {"status": "ok" if problem is None else "database unavailable"}
    if problem is not None:
        log.warning("health check failed: %s", problem)
        body["detail"] = problem
    journal = app.get(JOURNAL)
    if journal is not None:
        body["journal_pending"] = journal.pending()
        body["dead_letters"] = journal.dead_letters()
        if body["dead_letters"]:
            body["dead_letter_file"] = str(journal.dead_letter_path)
    return web.json_response(body, status=200 if problem is None else 503)
