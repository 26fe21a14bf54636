"""nexus_auth: verify the Nexus hub's access tokens and get tokens from Python.

    from nexus_auth import Verifier, exchange_api_key, device_login

    verifier = Verifier('https://id.nexus.example', 'urn:nexus:agi-safety')
    claims = verifier.verify(token)            # or raises InvalidToken(reason)

    token = exchange_api_key(issuer, 'agi-safety', client_secret, api_key, 'research:read')
    tokens = device_login(issuer, 'agi-safety', 'openid email research:read', client_secret)
    who = verify_gateway_assertion(request_headers['X-Nexus-Assertion'], issuer, 'urn:nexus:agi-safety')
    event = verify_webhook(request_headers, raw_body, 'whsec_...')   # or raises InvalidWebhook
    stored = emit('deal.won', {'dealId': 'd-42'}, subject=user_id)   # NEXUS_CLIENT_ID/_SECRET
"""
from .client_credentials import ClientCredentialsToken, client_credentials
from .device import device_login, poll_device_token, print_code, request_device_code
from .discovery import discover
from .errors import HubError, HubUnreachable, InvalidToken, InvalidWebhook, NexusAuthError, OAuthError, SlowDown
from .events import Emitter, emit, emit_many
from .exchange import exchange_api_key, exchange_api_key_response
from .gateway import ASSERTION_HEADER, GatewayVerifier, verify_gateway_assertion
from .jwks import JwksCache
from .verifier import Verifier
from .webhooks import verify_webhook

__version__ = '0.1.0'

__all__ = [
    'Verifier', 'JwksCache', 'discover', 'GatewayVerifier', 'verify_gateway_assertion', 'ASSERTION_HEADER',
    'exchange_api_key', 'exchange_api_key_response', 'client_credentials', 'ClientCredentialsToken',
    'verify_webhook', 'Emitter', 'emit', 'emit_many',
    'device_login', 'request_device_code', 'poll_device_token', 'print_code',
    'NexusAuthError', 'InvalidToken', 'InvalidWebhook', 'OAuthError', 'SlowDown', 'HubError', 'HubUnreachable',
]
