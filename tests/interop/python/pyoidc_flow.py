"""An independent relying party: pyoidc (PyPI `oic`, the OpenID Foundation's Python library)
runs discovery, the code flow with PKCE, the token request with ID token validation (RS256:
pyoidc has no EdDSA), userinfo and RP-initiated logout with an RS256 `id_token_hint` and no
`client_id`, as pyoidc sends it. The browser is a plain `requests.Session`, with its own cookie
jar — which only works if a dev gateway on http does not mark its cookies `Secure`.

Input (environment): ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI,
PERSONAL_ID, PASSWORD, PHONE. Output: one JSON document on stdout; a non-zero exit on any error.
"""

import json
import os
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from oic import rndstr
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, EndSessionRequest, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is required")
    return value


issuer = env("ISSUER")
redirect_uri = env("REDIRECT_URI")

client = Client(client_authn_method=CLIENT_AUTHN_METHOD, verify_ssl=False)
client.provider_config(issuer)
client.store_registration_info(
    RegistrationResponse(
        client_id=env("CLIENT_ID"),
        client_secret=env("CLIENT_SECRET"),
        redirect_uris=[redirect_uri],
        id_token_signed_response_alg="RS256",
    )
)

state, nonce = rndstr(), rndstr()
challenge, verifier = client.add_code_challenge()
request_args = {
    "client_id": client.client_id,
    "response_type": "code",
    "scope": ["openid", "profile"],
    "nonce": nonce,
    "redirect_uri": redirect_uri,
    "state": state,
}
request_args.update(challenge)
authorization_url = client.construct_AuthorizationRequest(request_args=request_args).request(
    client.authorization_endpoint
)

browser = requests.Session()


def otp():
    sms = requests.get(f"{issuer}/dev/sms", params={"phone": env("PHONE")}, timeout=10).json()
    return re.search(r"\b(\d{6})\b", sms[0]["text"]).group(1)


def sign_in(url):
    res = browser.get(url, allow_redirects=False, timeout=10)
    while res.status_code == 303:
        target = urljoin(issuer + "/", res.headers["location"])
        if not target.startswith(f"{issuer}/oauth2/interaction/"):
            return target
        html = browser.get(target, timeout=10).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if not found:
            raise SystemExit(f"no form on {target}: {html[:300]}")
        csrf = found.group(1)
        if 'name="password"' in html:
            form = {"csrf_token": csrf, "personal_id": env("PERSONAL_ID"), "password": env("PASSWORD")}
            res = browser.post(f"{target}/login", data=form, allow_redirects=False, timeout=10)
        elif 'name="otp"' in html:
            res = browser.post(f"{target}/otp", data={"csrf_token": csrf, "otp": otp()}, allow_redirects=False, timeout=10)
        else:
            res = browser.post(f"{target}/consent", data={"csrf_token": csrf, "decision": "allow"}, allow_redirects=False, timeout=10)
    raise SystemExit(f"sign-in stopped with HTTP {res.status_code}: {res.text[:300]}")


callback = sign_in(authorization_url)
response = client.parse_response(
    AuthorizationResponse, info=urlparse(callback).query, sformat="urlencoded"
)
assert response["state"] == state, response
tokens = client.do_access_token_request(
    state=state,
    request_args={"code": response["code"], "redirect_uri": redirect_uri, "code_verifier": verifier},
    authn_method="client_secret_basic",
)
id_token = tokens["id_token"]  # pyoidc verified its RS256 signature against the JWKS
assert id_token["nonce"] == nonce, id_token.to_dict()
userinfo = client.do_user_info_request(state=state)

# RP-initiated logout as pyoidc sends it: the ID token as hint, no client_id.
logout = EndSessionRequest(
    id_token_hint=id_token.jwt,
    post_logout_redirect_uri=env("POST_LOGOUT_REDIRECT_URI"),
    state="bye",
)
logout_res = browser.get(logout.request(client.end_session_endpoint), allow_redirects=False, timeout=10)
after_logout = browser.get(authorization_url + "&prompt=none", allow_redirects=False, timeout=10)

json.dump(
    {
        "library": "pyoidc",
        "id_token_claims": id_token.to_dict(),
        "userinfo": userinfo.to_dict(),
        "logout_status": logout_res.status_code,
        "logout_location": logout_res.headers.get("location"),
        "after_logout": parse_qs(urlparse(after_logout.headers.get("location", "")).query),
    },
    sys.stdout,
)
