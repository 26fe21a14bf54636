"""API keys for scripts: RFC 8693 token exchange of a Nexus API key for a project's access token."""
from .discovery import discover, endpoint
from .errors import HubError
from .oauth import token_request
from .transport import TIMEOUT

TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
API_KEY_TOKEN_TYPE = 'urn:nexus:params:oauth:token-type:api-key'
ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'


def exchange_api_key(issuer, client_id, client_secret, api_key, scope=None, timeout=TIMEOUT):
    """The access token (a JWT for the project's API, ``sub`` = the key's owner).

    Raises OAuthError (``invalid_grant`` for a revoked, expired or malformed key or an owner
    without access; ``invalid_client`` for a wrong secret), SlowDown (a subclass, with
    ``retry_after`` in seconds) when the key is over its per-minute limit, HubUnreachable."""
    return exchange_api_key_response(issuer, client_id, client_secret, api_key, scope, timeout)['access_token']


def exchange_api_key_response(issuer, client_id, client_secret, api_key, scope=None, timeout=TIMEOUT):
    """The whole token response: ``access_token``, ``issued_token_type``, ``token_type``,
    ``expires_in`` and ``scope`` (when the token has scopes). Same errors as exchange_api_key."""
    if not client_secret:
        raise ValueError('the token exchange needs the project\'s client secret')
    if not api_key:
        raise ValueError('no API key (nxk_live_... or nxk_test_...)')
    form = {
        'grant_type': TOKEN_EXCHANGE_GRANT,
        'subject_token': api_key,
        'subject_token_type': API_KEY_TOKEN_TYPE,
    }
    if scope:
        form['scope'] = scope
    token_endpoint = endpoint(discover(issuer, timeout=timeout), 'token_endpoint')
    answer = token_request(token_endpoint, form, client_id, client_secret, timeout=timeout)
    if answer.get('issued_token_type') != ACCESS_TOKEN_TYPE or str(answer.get('token_type', '')).lower() != 'bearer':
        raise HubError('the token exchange answered a %r %r, not a Bearer access token'
                       % (answer.get('token_type'), answer.get('issued_token_type')))
    return answer
