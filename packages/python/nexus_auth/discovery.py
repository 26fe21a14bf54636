"""OpenID Connect discovery: the hub's endpoints, from $ISSUER/.well-known/openid-configuration."""
from .errors import HubError
from .transport import TIMEOUT, get_json


def normalize_issuer(issuer):
    """The issuer as the hub writes it in `iss`: no trailing slash."""
    if not issuer:
        raise ValueError('an issuer URL is required, e.g. https://id.nexus.example')
    return issuer.rstrip('/')


def discover(issuer, timeout=TIMEOUT):
    """The discovery document. Its ``issuer`` must be exactly ours (OpenID Connect Discovery 4.3)."""
    issuer = normalize_issuer(issuer)
    metadata = get_json(issuer + '/.well-known/openid-configuration', timeout=timeout)
    if metadata.get('issuer') != issuer:
        raise HubError('the hub calls itself %r, not %r' % (metadata.get('issuer'), issuer))
    return metadata


def endpoint(metadata, name):
    """One endpoint of the discovery document, e.g. ``token_endpoint``; HubError when it is missing."""
    url = metadata.get(name)
    if not isinstance(url, str) or not url:
        raise HubError('the hub advertises no %s' % name)
    return url
