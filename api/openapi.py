"""`GET /api/openapi.json`: the JSON API described for supervisors' tools (and fuzzers)."""

from __future__ import annotations

from aiohttp import web

DATE = {"type": "string", "format": "date", "example": "2026-11-23"}
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_NUM = {"type": ["number", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RANGE_PARAMS = [
    {"name": "from", "in": "query", "required": False, "schema": DATE,
     "description": "first day, inclusive, in IVR_TIMEZONE (default today)"},
    {"name": "to", "in": "query", "required": False, "schema": DATE,
     "description": "last day, inclusive, in IVR_TIMEZONE (default: from)"},
]

LEG = {
    "type": "object",
    "required": ["staff", "phone", "ring_seconds", "rings", "answered", "within_three_rings"],
    "properties": {
        "staff": {"type": "string"},
        "phone": {"type": "string"},
        "ring_seconds": NULLABLE_INT,
        "rings": NULLABLE_INT,
        "answered": {"type": "boolean"},
        "within_three_rings": {"type": "boolean"},
    },
}

CALL = {
    "type": "object",
    "required": ["sid", "direction", "from", "to", "started_at", "ended_at", "menu_choice",
                 "status", "ticket_ids", "legs"],
    "properties": {
        "sid": {"type": "string"},
        "direction": {"type": "string", "enum": ["inbound", "outbound"]},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "menu_choice": NULLABLE_STR,
        "status": {"type": "string"},
        "ticket_ids": {"type": "array", "items": {"type": "integer"}},
        "legs": {"type": "array", "items": LEG},
    },
}

PER_STAFF = {
    "type": "object",
    "required": ["staff", "phone", "offered", "answered", "within_three_rings", "three_ring_rate"],
    "properties": {
        "staff": {"type": "string"}, "phone": {"type": "string"},
        "offered": {"type": "integer"}, "answered": {"type": "integer"},
        "within_three_rings": {"type": "integer"}, "three_ring_rate": NULLABLE_NUM,
        # The switchboard's figures (README, *Who is free*).
        "calls_handled": {"type": "integer"}, "talk_seconds": {"type": "integer"},
        "signed_in_seconds": {"type": "integer"},
        "occupancy": {**NULLABLE_NUM, "minimum": 0, "maximum": 1},
    },
}

STATS = {
    "type": "object",
    "required": ["inbound_calls", "outbound_calls", "transfers_offered", "transfers_answered",
                 "answered_within_three_rings", "three_ring_rate", "average_ring_seconds",
                 "abandoned_calls", "tickets_created", "per_staff"],
    "properties": {
        "inbound_calls": {"type": "integer"},
        "outbound_calls": {"type": "integer"},
        "transfers_offered": {"type": "integer"},
        "transfers_answered": {"type": "integer"},
        "answered_within_three_rings": {"type": "integer"},
        "three_ring_rate": {**NULLABLE_NUM, "minimum": 0, "maximum": 1},
        "average_ring_seconds": NULLABLE_NUM,
        "abandoned_calls": {"type": "integer"},
        "tickets_created": {"type": "integer"},
        "per_staff": {"type": "array", "items": PER_STAFF},
        # The caller's wait for a person (in line and ringing) and the queue.
        "calls_offered_to_person": {"type": "integer"},
        "calls_answered_by_person": {"type": "integer"},
        "answered_within_20s": {"type": "integer"},
        "answered_within_20s_rate": {**NULLABLE_NUM, "minimum": 0, "maximum": 1},
        "average_speed_of_answer": NULLABLE_NUM,
        "queued_calls": {"type": "integer"},
        "average_queue_wait_seconds": NULLABLE_NUM,
        "longest_queue_wait_seconds": {"type": ["integer", "null"]},
        "abandoned_in_queue": {"type": "integer"},
        "abandoned_in_queue_waits": {"type": "array", "items": {"type": "integer"}},
    },
}

CATEGORIES = ["repair", "complaint", "inquiry", "callback", "emergency"]
STATUSES = ["open", "assigned", "in_progress", "resolved", "followed_up", "closed", "reopened"]

TICKET = {
    "type": "object",
    "required": ["id", "number", "category", "status", "resident_phone", "call_sid", "owner",
                 "created_at", "due_at", "resolved_at", "escalation_level", "follow_up"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string", "pattern": r"^\d{8}-\d{4}$"},
        "category": {"type": "string", "enum": CATEGORIES},
        "status": {"type": "string", "enum": STATUSES},
        "resident_phone": NULLABLE_STR,
        "call_sid": NULLABLE_STR,
        "owner": NULLABLE_STR,
        "created_at": {"type": "string", "format": "date-time"},
        "due_at": {"type": "string", "format": "date-time"},
        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        "escalation_level": {"type": "integer", "minimum": 1, "maximum": 3},
        # beyond the contract: the resident (a message, a missed or abandoned call) still
        # waits for our callback; `category` is what they wanted
        "needs_callback": {"type": "boolean"},
        "follow_up": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["status", "due_at", "satisfaction"],
                 "properties": {
                     "status": {"type": "string"},
                     "due_at": {"type": ["string", "null"], "format": "date-time"},
                     "satisfaction": {"type": ["string", "null"],
                                      "enum": ["satisfied", "neutral", "dissatisfied", None]},
                 }},
            ]
        },
    },
}

_MOMENT = {"type": ["string", "null"], "format": "date-time"}
LIVE = {
    "type": "object", "required": ["at", "calls", "staff", "today"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "calls": {"type": "array", "items": {
            "type": "object", "required": ["sid", "from", "state", "since", "menu_choice"],
            "properties": {"sid": {"type": "string"}, "from": {"type": "string"},
                           "state": {"type": "string",
                                     "enum": ["menu", "queued", "ringing", "talking"]},
                           "since": _MOMENT, "menu_choice": {"type": ["string", "null"]},
                           "staff": {"type": "string"}, "phone": {"type": "string"},
                           "waited_seconds": {"type": "integer"}}}},
        "staff": {"type": "array", "items": {
            "type": "object", "required": ["staff", "phone", "state", "since"],
            "properties": {"staff": {"type": "string"}, "phone": {"type": "string"},
                           "state": {"type": "string", "enum": ["available", "ringing",
                                                                "talking", "wrap_up", "away"]},
                           "since": _MOMENT}}},
        "today": {"type": "object", "required": ["three_ring_rate", "abandoned_calls",
                                                 "queued_calls", "longest_wait_seconds"],
                  "properties": {"three_ring_rate": {"type": ["number", "null"]},
                                 "abandoned_calls": {"type": "integer"},
                                 "queued_calls": {"type": "integer"},
                                 "longest_wait_seconds": {"type": "integer"}}},
    },
}

UNAUTHORISED = _json(ERROR, "no valid bearer token")
BAD = _json(ERROR, "bad parameters")

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "物业客服中心热线 API (property hotline)", "version": "1.0.0",
             "description": "Bearer tokens come from `ivr token create NAME`. Dates are "
                            "inclusive, in IVR_TIMEZONE."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/calls": {"get": {
            "summary": "Calls started in the range, each with its legs",
            "parameters": RANGE_PARAMS,
            "responses": {"200": _json({"type": "object", "required": ["calls"], "properties": {
                "calls": {"type": "array", "items": CALL}}}, "the calls"),
                "400": BAD, "401": UNAUTHORISED},
        }},
        "/api/stats": {"get": {
            "summary": "Call-answer statistics for the range",
            "parameters": RANGE_PARAMS,
            "responses": {"200": _json(STATS, "the figures"), "400": BAD, "401": UNAUTHORISED,
                          "403": _json(ERROR, "for supervisors and admins only")},
        }},
        "/api/live": {"get": {
            "summary": "Now: calls in progress, each staff member's state, today's figures",
            "responses": {"200": _json(LIVE, "what is happening now"), "401": UNAUTHORISED,
                          "403": _json(ERROR, "for supervisors and admins only")},
        }},
        "/api/tickets": {"get": {
            "summary": "Tickets created in the range",
            "parameters": RANGE_PARAMS + [{"name": "status", "in": "query", "required": False,
                                           "schema": {"type": "string", "enum": STATUSES}}],
            "responses": {"200": _json({"type": "object", "required": ["tickets"], "properties": {
                "tickets": {"type": "array", "items": TICKET}}}, "the tickets"),
                "400": BAD, "401": UNAUTHORISED},
        }, "post": {
            "summary": "Open a ticket (owner by 首问负责制 unless owner_phone is given)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["category"], "properties": {
                    "category": {"type": "string", "enum": CATEGORIES},
                    "description": {"type": "string"},
                    "resident_phone": {"type": "string"},
                    "call_sid": {"type": "string"},
                    "department": {"type": "string"},
                    "owner_phone": {"type": "string"},
                }}}}},
            "responses": {"201": _json(TICKET, "the new ticket"), "400": BAD,
                          "401": UNAUTHORISED, "403": _json(ERROR, "role may not open tickets, or a staff token names a call that never rang them")},
        }},
        "/api/tickets/{id}/resolve": {"post": {
            "summary": "Mark a ticket resolved and schedule its follow-up call",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"note": {"type": "string"}}}}}},
            "responses": {"200": _json(TICKET, "the resolved ticket"), "400": BAD,
                          "401": UNAUTHORISED, "403": _json(ERROR, "role may not resolve"),
                          "404": _json(ERROR, "no such ticket"),
                          "409": _json(ERROR, "the ticket cannot be resolved from its status")},
        }},
    },
}


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
