"""HTTP plumbing of the console: JSON responses, JSON errors, bodies, query parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from bastion._core._errors import BastionError

__all__ = [
    "MAX_BODY",
    "ApiError",
    "error_response",
    "json_response",
    "query_choice",
    "query_int",
    "query_text",
    "read_body",
]

T = TypeVar("T")

#: Largest request body accepted (bytes); larger ones are answered 413.
MAX_BODY = 16 * 1024
_ENCODER = msgspec.json.Encoder()


class ApiError(BastionError):
    """A request the console refuses: ``status`` (4xx), a short ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def json_response(payload: Any, status: int = 200) -> Response:
    """``payload`` (dicts, lists, dataclasses, enums...) encoded as JSON by msgspec."""
    return Response(_ENCODER.encode(payload), status, media_type="application/json")


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None
                   ) -> Response:  # fmt: skip
    """The console's one error shape: ``{"error": {"code", "message"}}``."""
    body = _ENCODER.encode({"error": {"code": code, "message": message}})
    return Response(body, status, headers=headers, media_type="application/json")


async def read_body(request: Request, kind: type[T]) -> T:
    """Read and validate a JSON body into ``kind`` (a msgspec Struct); 4xx ``ApiError``s."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ApiError(413, "body_too_large", f"request bodies are limited to {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"request bodies are limited to {MAX_BODY} bytes")
    try:
        return msgspec.json.decode(bytes(body or b"{}"), type=kind)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid_body", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``low..high``; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    digits = raw[1:] if raw.startswith("-") else raw
    if not digits.isascii() or not digits.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer in {low}..{high}")
    return int(raw)


def query_choice(request: Request, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default); 400 otherwise."""
    raw = request.query_params.get(name, choices[0])
    if raw not in choices:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of {', '.join(choices)}")
    return raw


def query_text(request: Request, name: str, max_length: int = 200) -> str | None:
    """An optional text query parameter of at most ``max_length`` characters."""
    raw = request.query_params.get(name)
    if raw is not None and not 1 <= len(raw) <= max_length:
        raise ApiError(400, "invalid_parameter", f"{name} must be 1..{max_length} characters")
    return raw
