#!/usr/bin/env python3
"""Your first login: a relying party signs a sandbox persona in through the gateway's real login
pages (authorization code flow with PKCE), redeems the code and calls userinfo.

Only the Python standard library: run it on a fresh machine as is.

    python3 examples/first_login.py my-app.json [--gateway URL] [--persona ROLE]

my-app.json is what `eidgw rp register --json` or `POST /oauth2/register` (RFC 7591) answered:
its client_id, client_secret and first redirect URI are used. In production a browser does the
page steps; here the script plays the citizen with the sandbox helpers (persona picker, SMS
outbox), which exist in dev mode only.
"""

import argparse
import base64
import hashlib
import html
import http.cookiejar
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Stop(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: each hop is looked at (the last one goes to the app)."""

    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Stop())


def call(method, url, form=None, headers=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as res:
            return res.status, res.headers, res.read().decode()
    except urllib.error.HTTPError as res:
        return res.code, res.headers, res.read().decode()


def see_other(status, headers, body, what):
    if status != 303:
        sys.exit(f"{what}: expected a 303, got {status}: {body[:300]}")
    return headers["Location"]


def field(page, pattern, what):
    found = re.search(pattern, page)
    if not found:
        sys.exit(f"the page has no {what}")
    return html.unescape(found.group(1))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def read_otp(outbox):
    """The newest code in the sandbox SMS outbox (sent while the page was answered)."""
    for _ in range(50):
        _, _, sms = call("GET", outbox)
        messages = json.loads(sms)
        if messages:
            return re.search(r"\b(\d{6})\b", messages[0]["text"]).group(1)
        time.sleep(0.1)
    sys.exit("no SMS arrived in the sandbox outbox")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("registration", help="the JSON the registration answered")
    ap.add_argument("--gateway", default=os.environ.get("EIDGW_GATEWAY", "http://127.0.0.1:9123"))
    ap.add_argument("--persona", default="level-2", help="a sandbox persona role (GET /dev/personas)")
    ap.add_argument("--scope", help="default: the registration's scope, else openid profile birthdate")
    args = ap.parse_args()
    with open(args.registration) as f:
        app = json.load(f)
    client_id, secret = app["client_id"], app["client_secret"]
    redirect_uri = app["redirect_uris"][0]
    gateway = args.gateway.rstrip("/")

    # 1. Discovery: every endpoint comes from here.
    status, _, body = call("GET", gateway + "/.well-known/openid-configuration")
    if status != 200:
        sys.exit(f"discovery answered {status}: is the gateway running at {gateway}?")
    meta = json.loads(body)

    # 2. The app sends the browser to the authorization endpoint (PKCE S256, state, nonce).
    verifier = b64url(secrets.token_bytes(32))
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = urllib.parse.urlencode({
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": args.scope or app.get("scope", "openid profile birthdate"),
        "state": state,
        "nonce": nonce,
        "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    })
    page_url = urllib.parse.urljoin(
        gateway, see_other(*call("GET", f"{meta['authorization_endpoint']}?{query}"), "authorize"))

    # 3. The citizen, page by page until the gateway sends the browser back to the app: pick the
    #    persona (the page fills in the ID and shows its password), type the SMS code from the
    #    sandbox outbox, allow the release on the consent page (skipped when nothing is asked).
    status, _, page = call("GET", f"{page_url}?persona={args.persona}")
    next_url = page_url
    while next_url.startswith(page_url):
        if status != 200:
            sys.exit(f"the sign-in page answered {status}: {page[:300]}")
        refused = re.search(r'role="alert"[^>]*>([^<]+)<', page)
        if refused:
            sys.exit(f"the gateway refused the sign-in: {html.unescape(refused.group(1))}")
        csrf = field(page, r'name="csrf_token" value="([^"]+)"', "CSRF token")
        if 'name="password"' in page:
            personal_id = field(page, r'name="personal_id"[^>]*value="([0-9]{12})"', "persona ID")
            password = field(page, r"data-persona-password>[^<]*<code>([^<]+)</code>", "password")
            step = ("login", {"personal_id": personal_id, "password": password})
        elif 'name="otp"' in page:
            outbox = field(page, r'href="([^"]+)"[^>]*data-sms-outbox', "SMS outbox link")
            step = ("otp", {"otp": read_otp(urllib.parse.urljoin(gateway, outbox))})
        else:
            step = ("consent", {"decision": "allow"})
        form = {"csrf_token": csrf, **step[1]}
        next_url = urllib.parse.urljoin(
            gateway, see_other(*call("POST", f"{page_url}/{step[0]}", form), step[0]))
        if next_url.startswith(page_url):
            status, _, page = call("GET", next_url)
    back = next_url

    # 4. Back at the app: check state and iss (RFC 9207), redeem the code with the verifier.
    if not back.startswith(redirect_uri):
        sys.exit(f"the gateway sent the browser elsewhere: {back}")
    answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    if "error" in answer:
        sys.exit(f"the sign-in ended with {answer['error']}: {answer.get('error_description')}")
    if answer.get("state") != state or answer.get("iss") != meta["issuer"]:
        sys.exit(f"state or iss does not match: {answer}")
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}".encode()
    ).decode()
    status, _, body = call("POST", meta["token_endpoint"], {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }, {"Authorization": f"Basic {basic}"})
    if status != 200:
        sys.exit(f"the token endpoint answered {status}: {body}")
    tokens = json.loads(body)

    # 5. The ID token's claims. Its EdDSA signature is for your OpenID library to check against
    #    jwks_uri (the standard library has no Ed25519); here: issuer, audience, nonce, expiry.
    id_token = claims_of(tokens["id_token"])
    checks = {
        "iss": id_token["iss"] == meta["issuer"],
        "aud": id_token["aud"] in (client_id, [client_id]),
        "nonce": id_token.get("nonce") == nonce,
        "exp": id_token["exp"] > time.time(),
    }
    if not all(checks.values()):
        sys.exit(f"the ID token fails {[k for k, ok in checks.items() if not ok]}: {id_token}")
    status, _, body = call("GET", meta["userinfo_endpoint"],
                           headers={"Authorization": f"Bearer {tokens['access_token']}"})
    if status != 200:
        sys.exit(f"userinfo answered {status}: {body}")
    userinfo = json.loads(body)
    print(f"signed in to {client_id} as the '{args.persona}' persona")
    print(f"  sub        {id_token['sub']}  (pairwise: only this app's sector sees it)")
    print(f"  acr        {id_token.get('acr')}  amr {id_token.get('amr')}")
    print(f"  userinfo   {json.dumps(userinfo, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
