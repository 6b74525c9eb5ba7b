"""An independent relying party: Authlib (with joserfc) runs the whole OpenID Connect flow
against a running eid-gateway, playing the browser itself with plain form posts.

Input (environment): ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, PERSONAL_ID, PASSWORD,
PHONE, and optionally ID_TOKEN_ALG (EdDSA, or RS256 for a client registered for RS256) and
SCOPE. Output: one JSON document on stdout with what the relying party saw; a non-zero exit
code on any error.
"""

import json
import os
import re
import secrets
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test gateway is on loopback http


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is required")
    return value


issuer = env("ISSUER")
client_id = env("CLIENT_ID")
redirect_uri = env("REDIRECT_URI")

meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == issuer, meta["issuer"]

session = OAuth2Session(
    client_id,
    env("CLIENT_SECRET"),
    token_endpoint_auth_method="client_secret_basic",
    scope=os.environ.get("SCOPE", "openid profile address age_over_18"),
    redirect_uri=redirect_uri,
    code_challenge_method="S256",
)
verifier = secrets.token_urlsafe(48)
nonce = secrets.token_urlsafe(16)
authorization_url, state = session.create_authorization_url(
    meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
)

# The browser: cookies by name, redirects followed by hand. (requests' own cookie jar never
# sends `Secure` cookies over http, even to loopback, which browsers do; so this jar is manual.)
jar = {}


def browse(url, form=None):
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    if form is None:
        res = requests.get(url, headers={"cookie": cookie}, allow_redirects=False, timeout=10)
    else:
        res = requests.post(url, data=form, headers={"cookie": cookie}, allow_redirects=False, timeout=10)
    for line in res.raw.headers.getlist("Set-Cookie"):
        name, _, rest = line.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0].strip()
    return res


def otp():
    sms = requests.get(f"{issuer}/dev/sms", params={"phone": env("PHONE")}, timeout=10).json()
    return re.search(r"\b(\d{6})\b", sms[0]["text"]).group(1)


def sign_in(url):
    res = browse(url)
    while res.status_code == 303:
        target = urljoin(issuer + "/", res.headers["location"])
        if not target.startswith(f"{issuer}/oauth2/interaction/"):
            return target
        html = browse(target).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        if 'name="password"' in html:
            form = {"csrf_token": csrf, "personal_id": env("PERSONAL_ID"), "password": env("PASSWORD")}
            res = browse(f"{target}/login", form)
        elif 'name="otp"' in html:
            form = {"csrf_token": csrf, "otp": otp()}
            res = browse(f"{target}/otp", form)
        else:
            form = {"csrf_token": csrf, "decision": "allow"}
            res = browse(f"{target}/consent", form)
    raise SystemExit(f"sign-in stopped with HTTP {res.status_code}")


callback = sign_in(authorization_url)
callback_query = parse_qs(urlparse(callback).query)
assert callback_query["iss"] == [issuer], callback_query  # RFC 9207
token = session.fetch_token(
    meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
)

# ID token validation with joserfc: signature against the published JWKS, then the claims.
keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
# The client's registered algorithm (ID_TOKEN_ALG: EdDSA by default, or RS256).
id_token_alg = os.environ.get("ID_TOKEN_ALG", "EdDSA")
id_token = jwt.decode(token["id_token"], keys, algorithms=[id_token_alg])
assert id_token.header["alg"] == id_token_alg, id_token.header
assert id_token.header["typ"] == "JWT", id_token.header
jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": issuer},
    aud={"essential": True, "value": client_id},
    nonce={"essential": True, "value": nonce},
    sub={"essential": True},
    exp={"essential": True},
).validate(id_token.claims)

userinfo = session.get(meta["userinfo_endpoint"]).json()
refreshed = session.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
introspected = session.introspect_token(
    meta["introspection_endpoint"], token=refreshed["access_token"]
).json()
revoked = session.revoke_token(
    meta["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
)
after = session.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()

json.dump(
    {
        "library": "authlib",
        "id_token_alg": id_token.header["alg"],
        "id_token_claims": id_token.claims,
        "userinfo": userinfo,
        "refreshed_rotates": refreshed["refresh_token"] != token["refresh_token"],
        "introspection": introspected,
        "revocation_status": revoked.status_code,
        "after_revocation": after,
    },
    sys.stdout,
)
