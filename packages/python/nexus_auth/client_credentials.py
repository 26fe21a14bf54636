"""The project's own token (no user): the client credentials grant of a confidential client."""
from .discovery import discover, endpoint
from .oauth import token_request
from .transport import TIMEOUT


def client_credentials(issuer, client_id, client_secret, scope=None, timeout=TIMEOUT):
    """The token response (``access_token``, ``expires_in``, ``scope``); its token's ``sub`` is
    the client id. Raises OAuthError (``invalid_client``, ``invalid_scope``...), HubUnreachable."""
    if not client_secret:
        raise ValueError('client credentials need the project\'s client secret')
    form = {'grant_type': 'client_credentials'}
    if scope:
        form['scope'] = scope
    token_endpoint = endpoint(discover(issuer, timeout=timeout), 'token_endpoint')
    return token_request(token_endpoint, form, client_id, client_secret, timeout=timeout)
