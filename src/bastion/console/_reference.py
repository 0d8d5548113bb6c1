"""The API reference of ``docs/console.md``, generated from the OpenAPI document.

``python -m bastion.console._reference`` prints it; a test checks that the page holds
exactly this text between its ``api-reference`` markers.
"""

from __future__ import annotations

from typing import Any

from bastion.console._openapi import openapi_document

__all__ = ["BEGIN", "END", "reference_markdown"]

BEGIN = "<!-- api-reference: generated from /openapi.json by bastion.console._reference -->"
END = "<!-- end of the generated api-reference -->"


def _params(operation: dict[str, Any]) -> str:
    parts = []
    for p in operation.get("parameters", []):
        schema = p["schema"]
        kind = "/".join(schema["enum"]) if "enum" in schema else schema["type"]
        bounds = ""
        if "minimum" in schema:
            bounds = f" {schema['minimum']}..{schema['maximum']}"
        default = f", default {schema['default']}" if "default" in schema else ""
        parts.append(f"`{p['name']}` ({p['in']}, {kind}{bounds}{default})")
    body = operation.get("requestBody")
    if body is not None:
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        parts.append(f"JSON body `{ref}`")
    return "; ".join(parts) or "—"


def _answer(operation: dict[str, Any]) -> str:
    content = operation["responses"]["200"].get("content", {})
    for media, spec in content.items():
        ref = spec.get("schema", {}).get("$ref")
        return f"`{ref.rsplit('/', 1)[-1]}`" if ref else media
    return "—"


def _body_fields(name: str, schema: dict[str, Any]) -> str:
    fields = []
    for field in schema["properties"]:
        required = " (required)" if field in schema.get("required", []) else ""
        fields.append(f"`{field}`{required}")
    return f"* `{name}`: " + ", ".join(fields)


def reference_markdown() -> str:
    """The reference table (every path and method) and the request bodies, as Markdown."""
    document = openapi_document()
    lines = [
        BEGIN,
        "",
        "| method | path | what | parameters | 200 answer | errors |",
        "|---|---|---|---|---|---|",
    ]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = ", ".join(code for code in operation["responses"] if code != "200") or "—"
            auth = " (token)" if operation.get("security") else ""
            lines.append(
                f"| {method.upper()}{auth} | `{path}` | {operation['summary']} | "
                f"{_params(operation)} | {_answer(operation)} | {errors} |"
            )
    schemas = document["components"]["schemas"]
    lines += ["", "Request bodies (unknown fields are refused):", ""]
    lines += [
        _body_fields(name, schemas[name]) for name in sorted(schemas) if name.endswith("Body")
    ]
    lines += [
        "",
        'Every error is `{"error": {"code", "message"}}`. The full schemas of every '
        "answer are in `/openapi.json`.",
        "",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown())
