"""Schemathesis hooks for the gateway's fuzz run (tests/api/openapi_fuzz.rs).

The attribute-match batch endpoint reads NDJSON (one JSON object per line), a media type
schemathesis cannot serialize by itself.
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
