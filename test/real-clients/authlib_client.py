#!/usr/bin/python3
"""Independent client: drives a Nexus hub with Authlib (Debian python3-authlib), nothing of ours.

Run with /usr/bin/python3 (Debian's Python, where python3-authlib, python3-requests and
python3-jwt are installed). Inputs come from options or the environment:

  --issuer        NEXUS_ISSUER         e.g. http://localhost:4000
  --client-id     NEXUS_CLIENT_ID      a confidential client (client_secret_basic)
  --client-secret NEXUS_CLIENT_SECRET
  --email         NEXUS_EMAIL          an existing user's credentials
  --password      NEXUS_PASSWORD
  --redirect-uri  NEXUS_REDIRECT_URI   a registered redirect URI (nothing needs to listen there)
  --audience      NEXUS_AUDIENCE       the project's API audience, e.g. urn:nexus:sales
  --scope         NEXUS_SCOPE          API scopes for the sign-in, e.g. "leads:read leads:write"
  --cc-scope      NEXUS_CC_SCOPE       API scope for the client credentials grant

It signs in through the hub's real login page (authorization code + PKCE S256), redeems the
code with OAuth2Session.fetch_token, refreshes, runs the client credentials grant, verifies
every token with authlib.jose against the hub's JWKS, and prints one JSON object with what it
observed. Any failure exits non-zero with a message on stderr.
"""
import argparse
import json
import os
import re
import sys
import time
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken

TIMEOUT = 15


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class FormParser(HTMLParser):
    """Collects every form's action and its named input values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._current = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'form':
            self._current = {'action': attrs.get('action') or '', 'fields': {}}
            self.forms.append(self._current)
        elif tag == 'input' and self._current is not None and attrs.get('name'):
            self._current['fields'][attrs['name']] = attrs.get('value') or ''

    def handle_endtag(self, tag):
        if tag == 'form':
            self._current = None


def find_form(html, action_contains):
    parser = FormParser()
    parser.feed(html)
    for form in parser.forms:
        if action_contains in form['action']:
            return form
    return None


class UserAgent:
    """A person's browser: a cookie jar, redirects followed by hand, forms submitted."""

    def __init__(self, issuer, redirect_uri):
        self.http = requests.Session()
        self.http.trust_env = False  # never send loopback traffic through a proxy
        self.issuer = issuer
        self.redirect_uri = redirect_uri
        self.pages = []

    def _follow(self, response):
        """Follows redirects inside the hub; returns ('callback', url) or ('page', response)."""
        for _ in range(20):
            self.pages.append(urlsplit(response.url).path)
            if response.status_code not in (301, 302, 303, 307, 308):
                return 'page', response
            target = urljoin(response.url, response.headers['Location'])
            if target.split('?')[0] == self.redirect_uri:
                return 'callback', target  # the project's callback: nothing listens there
            check(target.startswith(self.issuer + '/'), 'redirected off the hub to %s' % target)
            response = self.http.get(target, allow_redirects=False, timeout=TIMEOUT)
        raise Failure('too many redirects')

    def open(self, url):
        return self._follow(self.http.get(url, allow_redirects=False, timeout=TIMEOUT))

    def submit(self, page_url, form, values):
        action = urljoin(page_url, form['action'])
        check(action.startswith(self.issuer + '/'), 'form posts off the hub to %s' % action)
        data = dict(form['fields'])
        data.update(values)
        return self._follow(self.http.post(action, data=data, allow_redirects=False, timeout=TIMEOUT))

    def sign_in(self, authorization_url, email, password):
        """Returns the callback URL the hub redirects to, and whether a consent page was shown."""
        kind, result = self.open(authorization_url)
        consent_shown = False
        login_shown = False
        for _ in range(4):
            if kind == 'callback':
                return result, login_shown, consent_shown
            page = result
            login = find_form(page.text, '/login')
            consent = find_form(page.text, '/consent')
            if login:
                check(not login_shown, 'sign-in refused (HTTP %s): %s' % (page.status_code, page_alert(page.text)))
                check(login['fields'].get('csrf'), 'login form has no csrf field')
                login_shown = True
                kind, result = self.submit(page.url, login, {'email': email, 'password': password})
            elif consent:
                check(consent['fields'].get('csrf'), 'consent form has no csrf field')
                consent_shown = True
                kind, result = self.submit(page.url, consent, {})
            else:
                raise Failure('unexpected page %s (HTTP %s): %s' % (page.url, page.status_code, page.text[:800]))
        raise Failure('sign-in did not return to the project')


def page_alert(html):
    """The text of a page's alert box (the hub's error message), or a prefix of the page."""
    match = re.search(r'role="alert"[\s\S]*?<p>([\s\S]*?)</p>', html)
    return unescape(match.group(1).strip()) if match else html[:300]


def load_jwks(http, jwks_uri):
    response = http.get(jwks_uri, timeout=TIMEOUT)
    check(response.status_code == 200, 'JWKS answered HTTP %s' % response.status_code)
    keys = response.json()
    check(keys.get('keys'), 'JWKS has no keys')
    for key in keys['keys']:
        check('d' not in key and 'p' not in key, 'JWKS publishes a private key part (kid %s)' % key.get('kid'))
    return JsonWebKey.import_key_set(keys)


def verify(token, jwks, issuer, audience, essential=(), expected=None, typ=None):
    """Verifies an RS256 JWT's signature and its iss, aud, exp (and more) with authlib.jose."""
    options = {
        'iss': {'essential': True, 'value': issuer},
        'aud': {'essential': True, 'value': audience},
        'exp': {'essential': True},
        'iat': {'essential': True},
    }
    for name in essential:
        options[name] = {'essential': True}
    for name, value in (expected or {}).items():
        options[name] = {'essential': True, 'value': value}
    claims = JsonWebToken(['RS256']).decode(token, jwks, claims_options=options)
    claims.validate(now=int(time.time()), leeway=5)
    header = dict(claims.header)
    check(header.get('alg') == 'RS256', 'token signed with %s, not RS256' % header.get('alg'))
    if typ is not None:
        check(str(header.get('typ', '')).lower() == typ, 'token typ header is %r, expected %r' % (header.get('typ'), typ))
    return {'header': header, 'claims': dict(claims)}


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--issuer', default=env('NEXUS_ISSUER'))
    parser.add_argument('--client-id', default=env('NEXUS_CLIENT_ID'))
    parser.add_argument('--client-secret', default=env('NEXUS_CLIENT_SECRET'))
    parser.add_argument('--email', default=env('NEXUS_EMAIL'))
    parser.add_argument('--password', default=env('NEXUS_PASSWORD'))
    parser.add_argument('--redirect-uri', default=env('NEXUS_REDIRECT_URI'))
    parser.add_argument('--audience', default=env('NEXUS_AUDIENCE'))
    parser.add_argument('--scope', default=env('NEXUS_SCOPE', ''))
    parser.add_argument('--cc-scope', default=env('NEXUS_CC_SCOPE'))
    args = parser.parse_args()
    missing = [name for name in ('issuer', 'client_id', 'client_secret', 'email', 'password', 'redirect_uri', 'audience')
               if not getattr(args, name)]
    if missing:
        parser.error('missing: %s' % ', '.join('--' + name.replace('_', '-') for name in missing))
    issuer = args.issuer.rstrip('/')
    out = {}

    # Discovery (OpenID Connect Discovery 1.0): the issuer must match exactly.
    http = requests.Session()
    http.trust_env = False
    response = http.get(issuer + '/.well-known/openid-configuration', timeout=TIMEOUT)
    check(response.status_code == 200, 'discovery answered HTTP %s' % response.status_code)
    metadata = response.json()
    check(metadata.get('issuer') == issuer, 'discovery issuer %r != %r' % (metadata.get('issuer'), issuer))
    check('S256' in metadata.get('code_challenge_methods_supported', []), 'S256 PKCE not advertised')
    out['discovery'] = {key: metadata.get(key) for key in (
        'issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri',
        'code_challenge_methods_supported', 'token_endpoint_auth_methods_supported', 'grant_types_supported')}
    jwks = load_jwks(http, metadata['jwks_uri'])

    # Authorization code + PKCE, built by Authlib.
    scope = ' '.join(['openid', 'email', 'profile', 'offline_access'] + args.scope.split())
    oauth = OAuth2Session(
        client_id=args.client_id, client_secret=args.client_secret,
        token_endpoint_auth_method='client_secret_basic',
        scope=scope, redirect_uri=args.redirect_uri, code_challenge_method='S256')
    oauth.trust_env = False
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    authorization_url, state = oauth.create_authorization_url(
        metadata['authorization_endpoint'], code_verifier=code_verifier, nonce=nonce,
        prompt='consent')  # OpenID Connect grants offline_access only with prompt=consent
    query = parse_qs(urlsplit(authorization_url).query)
    check(query.get('code_challenge_method') == ['S256'], 'Authlib did not add an S256 code challenge')

    agent = UserAgent(issuer, args.redirect_uri)
    callback_url, login_shown, consent_shown = agent.sign_in(authorization_url, args.email, args.password)
    callback = parse_qs(urlsplit(callback_url).query)
    check('error' not in callback, 'authorization error: %s' % callback)
    check(callback.get('state') == [state], 'state mismatch: %s' % callback.get('state'))
    out['authorization'] = {
        'login_page_shown': login_shown, 'consent_page_shown': consent_shown,
        'state_matches': True, 'iss': (callback.get('iss') or [None])[0],
        'has_code': bool(callback.get('code')),
    }

    # Authlib checks state again and redeems the code with the PKCE verifier.
    token = oauth.fetch_token(
        metadata['token_endpoint'], authorization_response=callback_url, state=state, code_verifier=code_verifier)
    check(str(token.get('token_type', '')).lower() == 'bearer', 'token_type is %r' % token.get('token_type'))
    for name in ('access_token', 'id_token', 'refresh_token'):
        check(token.get(name), 'token response has no %s' % name)
    out['token_response'] = {'token_type': token['token_type'], 'expires_in': token.get('expires_in'),
                             'scope': token.get('scope'), 'has_refresh_token': True}
    out['id_token'] = verify(token['id_token'], jwks, issuer, args.client_id,
                             essential=('sub',), expected={'nonce': nonce})
    out['access_token'] = verify(token['access_token'], jwks, issuer, args.audience,
                                 essential=('sub', 'client_id', 'jti'), typ='at+jwt')

    # Refresh: a new, verifiable access token and a rotated refresh token.
    refreshed = oauth.refresh_token(metadata['token_endpoint'], refresh_token=token['refresh_token'])
    check(refreshed.get('access_token'), 'refresh returned no access token')
    out['refresh'] = {
        'rotated': bool(refreshed.get('refresh_token')) and refreshed['refresh_token'] != token['refresh_token'],
        'access_token': verify(refreshed['access_token'], jwks, issuer, args.audience,
                               essential=('sub', 'client_id', 'jti'), typ='at+jwt'),
    }

    # Client credentials: a machine token for the project's own API.
    if args.cc_scope:
        machine = OAuth2Session(client_id=args.client_id, client_secret=args.client_secret,
                                token_endpoint_auth_method='client_secret_basic')
        machine.trust_env = False
        cc = machine.fetch_token(metadata['token_endpoint'], grant_type='client_credentials', scope=args.cc_scope)
        check(cc.get('access_token'), 'client credentials returned no access token')
        out['client_credentials'] = {
            'token_type': cc.get('token_type'), 'has_refresh_token': 'refresh_token' in cc, 'has_id_token': 'id_token' in cc,
            'access_token': verify(cc['access_token'], jwks, issuer, args.audience,
                                   essential=('sub', 'client_id', 'jti'), typ='at+jwt'),
        }

    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == '__main__':
    try:
        main()
    except Exception as error:  # every failure, Authlib's included, is reported the same way
        sys.stderr.write('authlib_client.py: FAILED: %s: %s\n' % (type(error).__name__, error))
        sys.exit(1)
