"""Schemathesis hooks for the gateway's fuzz run (tests/api/openapi_fuzz.rs).

The attribute-match batch endpoint reads NDJSON (one JSON object per line), a media type
schemathesis cannot serialize by itself; the history export answers a compact JWS
(`application/jose`), which it cannot read by itself.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, list):
        return "".join(json.dumps(v) + "\n" for v in value).encode()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()


@schemathesis.deserializer("application/jose")
def compact_jws(ctx, response):
    """The signed history export: a compact JWS (RFC 7515), three base64url parts."""
    text = response.content.decode("ascii")
    if text.count(".") != 2:
        raise ValueError("not a compact JWS")
    return text
