#!/usr/bin/python3
"""Independent client: exchanges a Nexus API key for an access token (RFC 8693), nothing of ours.

Run with /usr/bin/python3 (Debian's Python, where python3-authlib is installed). It POSTs the
token exchange to the hub's token endpoint with plain urllib.request, authenticating the project
with HTTP Basic (RFC 6749 section 2.3.1), then verifies the returned JWT against the hub's JWKS
with authlib.jose (RS256 signature, iss, aud, exp, typ header at+jwt).

Options (or environment variables):

  --issuer             NEXUS_ISSUER          e.g. http://localhost:4000
  --client-id          NEXUS_CLIENT_ID       the project exchanging the key, e.g. agi-safety
  --client-secret      NEXUS_CLIENT_SECRET   its secret
  --api-key            NEXUS_API_KEY         the key to exchange (nxk_live_... or nxk_test_...)
  --audience           NEXUS_AUDIENCE        expected aud (default urn:nexus:<client id>)
  --scope              NEXUS_SCOPE           optional scope to request, e.g. research:read
  --subject-token-type NEXUS_SUBJECT_TOKEN_TYPE  default urn:nexus:params:oauth:token-type:api-key

Output: one JSON object on stdout.
  exit 0  {"status": 200, "token_type", "issued_token_type", "expires_in", "scope",
           "has_refresh_token", "has_id_token", "access_token", "header": {...}, "claims": {...}}
  exit 3  the hub refused with an OAuth error:
          {"error", "error_description", "status", "retry_after"}
  exit 1  anything else (bad usage, network, an unverifiable token, ...), with a message on stderr.
"""
import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from authlib.jose import JsonWebKey, JsonWebToken

TIMEOUT = 15
TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
API_KEY_TOKEN_TYPE = 'urn:nexus:params:oauth:token-type:api-key'
ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
# The hub is on loopback: never send its traffic (or the key) through a proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Failure(Exception):
    pass


class OAuthError(Exception):
    def __init__(self, report):
        super().__init__(report.get('error'))
        self.report = report


class Arguments(argparse.ArgumentParser):
    """Usage errors are failures like any other: exit 1 with a message, not argparse's 2."""

    def error(self, message):
        raise Failure('usage: %s' % message)


def check(condition, message):
    if not condition:
        raise Failure(message)


def get_json(url):
    request = urllib.request.Request(url, headers={'Accept': 'application/json'})
    try:
        with OPENER.open(request, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise Failure('GET %s answered HTTP %s' % (url, error.code))


def exchange(token_endpoint, client_id, client_secret, form):
    """POSTs the token exchange; returns the token response or raises OAuthError."""
    # RFC 6749 section 2.3.1: id and secret are form-urlencoded before Basic encoding.
    credentials = '%s:%s' % (urllib.parse.quote(client_id, safe=''), urllib.parse.quote(client_secret, safe=''))
    headers = {
        'Authorization': 'Basic ' + base64.b64encode(credentials.encode()).decode(),
        'Content-Type': 'application/x-www-form-urlencoded',
        'Accept': 'application/json',
    }
    request = urllib.request.Request(token_endpoint, data=urllib.parse.urlencode(form).encode(), headers=headers, method='POST')
    try:
        with OPENER.open(request, timeout=TIMEOUT) as response:
            check(response.status == 200, 'token endpoint answered HTTP %s' % response.status)
            return json.load(response)
    except urllib.error.HTTPError as error:
        text = error.read().decode('utf-8', 'replace')
        try:
            body = json.loads(text)
        except ValueError:
            raise Failure('token endpoint answered HTTP %s without JSON: %s' % (error.code, text[:200]))
        if not isinstance(body, dict) or not isinstance(body.get('error'), str):
            raise Failure('token endpoint answered HTTP %s without an OAuth error: %s' % (error.code, text[:200]))
        retry_after = error.headers.get('Retry-After')
        raise OAuthError({
            'error': body['error'],
            'error_description': body.get('error_description'),
            'status': error.code,
            'retry_after': int(retry_after) if retry_after and retry_after.isdigit() else retry_after,
        })


def verify(token, jwks, issuer, audience):
    """Verifies the access token's RS256 signature, iss, aud, exp and typ with authlib.jose."""
    options = {
        'iss': {'essential': True, 'value': issuer},
        'aud': {'essential': True, 'value': audience},
        'exp': {'essential': True},
        'iat': {'essential': True},
        'sub': {'essential': True},
    }
    claims = JsonWebToken(['RS256']).decode(token, jwks, claims_options=options)
    claims.validate(now=int(time.time()), leeway=5)
    header = dict(claims.header)
    check(header.get('alg') == 'RS256', 'token signed with %r, not RS256' % header.get('alg'))
    # RFC 9068 section 2.1: "at+jwt" (the "application/" prefix may be present).
    typ = str(header.get('typ', '')).lower()
    check(typ in ('at+jwt', 'application/at+jwt'), 'token typ header is %r, expected at+jwt' % header.get('typ'))
    return header, dict(claims)


def main():
    env = os.environ.get
    parser = Arguments(description=__doc__.splitlines()[0])
    parser.add_argument('--issuer', default=env('NEXUS_ISSUER'))
    parser.add_argument('--client-id', default=env('NEXUS_CLIENT_ID'))
    parser.add_argument('--client-secret', default=env('NEXUS_CLIENT_SECRET'))
    parser.add_argument('--api-key', default=env('NEXUS_API_KEY'))
    parser.add_argument('--audience', default=env('NEXUS_AUDIENCE'))
    parser.add_argument('--scope', default=env('NEXUS_SCOPE'))
    parser.add_argument('--subject-token-type', default=env('NEXUS_SUBJECT_TOKEN_TYPE', API_KEY_TOKEN_TYPE))
    args = parser.parse_args()
    missing = [name for name in ('issuer', 'client_id', 'client_secret', 'api_key') if not getattr(args, name)]
    check(not missing, 'missing: %s' % ', '.join('--' + name.replace('_', '-') for name in missing))
    issuer = args.issuer.rstrip('/')
    audience = args.audience or 'urn:nexus:%s' % args.client_id

    metadata = get_json(issuer + '/.well-known/openid-configuration')
    check(metadata.get('issuer') == issuer, 'discovery issuer %r != %r' % (metadata.get('issuer'), issuer))
    jwks = get_json(metadata['jwks_uri'])
    check(jwks.get('keys'), 'JWKS has no keys')
    for key in jwks['keys']:
        check('d' not in key and 'p' not in key, 'JWKS publishes a private key part (kid %s)' % key.get('kid'))

    form = {
        'grant_type': TOKEN_EXCHANGE,
        'subject_token': args.api_key,
        'subject_token_type': args.subject_token_type,
    }
    if args.scope:
        form['scope'] = args.scope
    token = exchange(metadata['token_endpoint'], args.client_id, args.client_secret, form)

    check(isinstance(token.get('access_token'), str) and token['access_token'], 'token response has no access_token')
    check(str(token.get('token_type', '')).lower() == 'bearer', 'token_type is %r, not Bearer' % token.get('token_type'))
    check(token.get('issued_token_type') == ACCESS_TOKEN_TYPE,
          'issued_token_type is %r, not %s' % (token.get('issued_token_type'), ACCESS_TOKEN_TYPE))
    header, claims = verify(token['access_token'], JsonWebKey.import_key_set(jwks), issuer, audience)
    print(json.dumps({
        'status': 200,
        'token_type': token['token_type'],
        'issued_token_type': token['issued_token_type'],
        'expires_in': token.get('expires_in'),
        'scope': token.get('scope'),
        'has_refresh_token': 'refresh_token' in token,
        'has_id_token': 'id_token' in token,
        'access_token': token['access_token'],
        'header': header,
        'claims': claims,
    }, indent=2, sort_keys=True))


if __name__ == '__main__':
    try:
        main()
    except OAuthError as refusal:
        print(json.dumps(refusal.report, sort_keys=True))
        sys.exit(3)
    except Exception as error:  # every other failure, Authlib's included, is reported the same way
        sys.stderr.write('apikey_exchange.py: FAILED: %s: %s\n' % (type(error).__name__, error))
        sys.exit(1)
