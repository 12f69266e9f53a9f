"""GuardConfig: every setting of a guard, validated when built.

>>> cfg = GuardConfig(domain="acme.kinde.com", audience="https://api.acme.com")
>>> cfg.domain, cfg.issuers, cfg.jwks_uri
('https://acme.kinde.com', ('https://acme.kinde.com',), 'https://acme.kinde.com/.well-known/jwks')
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["RSA_ALGORITHMS", "GuardConfig", "is_loopback_host"]

#: The algorithms a guard can be configured with. Kinde signs with RS256 only; the JWKS policy uses
#: RSA keys only, so the other RSA algorithms are the whole asymmetric choice. HMAC and "none" are
#: never accepted (RFC 8725 §3.1, §3.2).
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``: the only hosts where ``http://`` is allowed."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an absolute https:// URL, got {url!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"{name} {url!r} uses http:// on a non-loopback host; tokens and keys must travel over "
            "https:// (http:// is accepted only for 127.0.0.0/8, ::1 and localhost, for local testing)."
        )
    if parts.fragment or parts.username or parts.password:
        raise ConfigurationError(f"{name} {url!r} must not carry credentials or a #fragment.")
    return url


def _normalize_domain(domain: str) -> str:
    domain = domain.strip()
    if not domain:
        raise ConfigurationError("domain is required: your Kinde domain, e.g. 'https://acme.kinde.com' (KINDE_DOMAIN).")
    if "://" not in domain:
        domain = "https://" + domain
    domain = domain.rstrip("/")
    _check_url("domain", domain)
    if urlsplit(domain).query:
        raise ConfigurationError(f"domain {domain!r} must not carry a ?query.")
    return domain


def _words(value: str | Sequence[str], name: str) -> tuple[str, ...]:
    items = value.split() if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or not item or any(ch.isspace() for ch in item):
            raise ConfigurationError(f"{name} must hold non-empty strings without spaces, got {item!r}.")
    return tuple(dict.fromkeys(items))


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number, got {value!r}.")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}.")


@dataclass(frozen=True, kw_only=True)
class GuardConfig:
    """The settings of one :class:`~kinde_guard.KindeGuard`. Frozen; validated when built.

    Sequences may be given as a list or as one space-separated string. Times are in seconds.
    """

    #: Your Kinde domain, e.g. ``https://acme.kinde.com`` (a bare host gets ``https://``; a trailing
    #: slash is stripped). Env ``KINDE_DOMAIN``. Required.
    domain: str
    #: The API audience(s) a token must name in ``aud`` (at least one must match). Env
    #: ``KINDE_AUDIENCE``, space-separated. Required unless ``insecure_accept_empty_audience``.
    audience: Sequence[str] = ()
    #: Opt-out for tenants without a registered API: accept tokens whose ``aud`` is ``[]`` or absent.
    #: A token naming some *other* audience is still refused. Default ``False``.
    insecure_accept_empty_audience: bool = False
    #: Accepted ``iss`` values, matched exactly. Default: the domain. Env ``KINDE_ISSUER``.
    issuers: Sequence[str] = ()
    #: Where the signing keys are. Default ``{domain}/.well-known/jwks``. Env ``KINDE_JWKS_URI``.
    jwks_uri: str = ""
    #: Accepted JWS algorithms (RSA only). Default ``("RS256",)``. Env ``KINDE_ALGORITHMS``.
    algorithms: Sequence[str] = ("RS256",)
    #: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``, in seconds. Default 60.
    leeway: float = 60.0
    #: Scopes every token must carry (in ``scp`` or ``scope``), on every route. Default none.
    required_scopes: Sequence[str] = ()
    #: Permissions every token must carry (in ``permissions``), on every route. Default none.
    required_permissions: Sequence[str] = ()
    #: If set, the token's ``azp`` (client id) must be one of these. Default: any client.
    allowed_client_ids: Sequence[str] = ()
    #: If set, the token's ``org_code`` must be one of these. Default: any (or no) organization.
    allowed_org_codes: Sequence[str] = ()
    #: Accept machine-to-machine tokens (``gty`` contains ``client_credentials``). Default ``True``.
    allow_m2m: bool = True
    #: Accept user access tokens (tokens that are not M2M). Default ``True``.
    allow_user_tokens: bool = True
    #: If set, refuse tokens whose ``iat`` is older than this many seconds. Default ``None`` (off).
    max_token_age: float | None = None
    #: Largest accepted token, in bytes, checked before any decoding. Default 8192.
    max_token_bytes: int = 8192
    #: How long fetched keys are fresh when the JWKS response has no ``Cache-Control: max-age``,
    #: in seconds. Default 600.
    jwks_ttl: float = 600.0
    #: Lower bound applied to a ``Cache-Control: max-age``, in seconds. Default 60.
    jwks_min_ttl: float = 60.0
    #: Upper bound applied to a ``Cache-Control: max-age``, in seconds. Default 3600.
    jwks_max_ttl: float = 3600.0
    #: Minimum time between two JWKS fetch attempts of any kind, in seconds. Default 30.
    jwks_cooldown: float = 30.0
    #: How long the last good keys keep serving while the JWKS endpoint fails, in seconds, counted
    #: from when they stopped being fresh. Default 86400 (24 h).
    jwks_max_stale: float = 86400.0
    #: Largest JWKS response accepted, in bytes. Default 262144 (256 KiB).
    jwks_max_bytes: int = 262144
    #: Timeout of one JWKS fetch (connect and read together), in seconds. Default 5.
    http_timeout: float = 5.0
    #: Entries in the verified-token cache (claims of tokens already verified); 0 turns it off.
    #: Default 4096.
    token_cache_size: int = 4096
    #: This API's resource identifier (RFC 9728 / RFC 8707), e.g. ``https://api.acme.com/mcp``. When
    #: set, the adapters publish Protected Resource Metadata, challenges point to it, and it is an
    #: accepted audience (``audience`` becomes optional). Env ``KINDE_RESOURCE``. Default: none.
    resource: str = ""
    #: ``scopes_supported`` of the metadata; default: the scopes the routes require. Env
    #: ``KINDE_SCOPES_SUPPORTED``.
    scopes_supported: Sequence[str] = ()
    #: Human-readable ``resource_name`` of the metadata. Env ``KINDE_RESOURCE_NAME``. Default none.
    resource_name: str = ""
    #: URL of the API's documentation (``resource_documentation``). Env
    #: ``KINDE_RESOURCE_DOCUMENTATION``. Default none.
    resource_documentation: str = ""
    #: Accept Kinde API keys (``Authorization: Bearer k_...``) wherever an access token is accepted,
    #: verified by calling Kinde (``POST {domain}/api/v1/api_keys/verify``). Env ``KINDE_API_KEYS``.
    #: Default ``False``.
    api_keys: bool = False
    #: Client id of the M2M application authorised for the Kinde Management API (audience
    #: ``{domain}/api``) with scope ``read:api_keys``. Env ``KINDE_M2M_CLIENT_ID``. Required with
    #: ``api_keys``.
    m2m_client_id: str = ""
    #: That M2M application's client secret. Env ``KINDE_M2M_CLIENT_SECRET``. Required with
    #: ``api_keys``; never logged.
    m2m_client_secret: str = dataclasses.field(default="", repr=False)
    #: A bearer value that is not JWT-shaped must start with one of these to be sent to Kinde; any
    #: other is refused locally (401). Default ``("k_",)``.
    api_key_prefixes: Sequence[str] = ("k_",)
    #: Seconds a verified key is trusted without asking Kinde again: the revocation delay. Default 300.
    api_key_cache_ttl: float = 300.0
    #: Seconds a key Kinde refused (unknown, inactive, revoked) is refused without asking again.
    #: Default 60.
    api_key_negative_ttl: float = 60.0
    #: How long a verified key keeps working past ``api_key_cache_ttl`` while Kinde cannot be
    #: reached, in seconds. Default 3600.
    api_key_max_stale: float = 3600.0
    #: Verification calls for keys not in the cache: at most this many at once (a burst). Default 20.
    api_key_verify_burst: int = 20
    #: ... then this many per second on average (a token bucket). Default 5.
    api_key_verify_rate: float = 5.0
    #: After Kinde failed to answer a verification, seconds before a new call for an unknown key
    #: (those get 503 meanwhile; cached keys keep working). Default 5.
    api_key_cooldown: float = 5.0
    #: Entries in the verified-key cache (and, four times this, in the refused-key cache). Default 4096.
    api_key_cache_size: int = 4096

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.domain, str):
            raise ConfigurationError(f"domain must be a string, got {type(self.domain).__name__}.")
        set_(self, "domain", _normalize_domain(self.domain))
        for name in (
            "audience",
            "issuers",
            "algorithms",
            "required_scopes",
            "required_permissions",
            "allowed_client_ids",
            "allowed_org_codes",
            "scopes_supported",
        ):
            set_(self, name, _words(getattr(self, name), name))
        if self.resource:
            _check_url("resource", self.resource)
            # RFC 8707: the resource identifier is also an accepted audience.
            set_(self, "audience", tuple(dict.fromkeys((*self.audience, self.resource))))
        if self.resource_documentation:
            _check_url("resource_documentation", self.resource_documentation)
        if not self.audience and not self.insecure_accept_empty_audience:
            raise ConfigurationError(
                "audience is required: the audience of your API registered in Kinde (Settings > APIs), "
                "e.g. audience='https://api.acme.com' (KINDE_AUDIENCE). A tenant without a registered "
                "API can set insecure_accept_empty_audience=True instead, accepting tokens with no aud; an API "
                "with a resource identifier (RFC 8707) can set resource=... instead."
            )
        issuers = self.issuers or (self.domain,)
        for iss in issuers:
            _check_url("issuer", iss)
            if iss.endswith("/"):
                raise ConfigurationError(
                    f"issuer {iss!r} ends with '/': Kinde's iss has no trailing slash, so no token "
                    "would ever match. Remove the slash."
                )
        set_(self, "issuers", issuers)
        set_(self, "jwks_uri", _check_url("jwks_uri", self.jwks_uri or self.domain + "/.well-known/jwks"))
        if not self.algorithms:
            raise ConfigurationError("algorithms must name at least one algorithm, e.g. ('RS256',).")
        bad = [a for a in self.algorithms if a not in RSA_ALGORITHMS]
        if bad:
            raise ConfigurationError(
                f"algorithms {bad} are not allowed: only asymmetric RSA algorithms "
                f"({', '.join(sorted(RSA_ALGORITHMS))}) can be configured; Kinde signs with RS256."
            )
        if not self.allow_m2m and not self.allow_user_tokens:
            raise ConfigurationError("allow_m2m and allow_user_tokens are both False: no token could pass.")
        for name in ("jwks_ttl", "jwks_min_ttl", "jwks_max_ttl", "http_timeout"):
            _positive(name, getattr(self, name))
        for name in ("leeway", "jwks_cooldown", "jwks_max_stale"):
            _positive(name, getattr(self, name), allow_zero=True)
        if self.max_token_age is not None:
            _positive("max_token_age", self.max_token_age)
        if self.jwks_min_ttl > self.jwks_max_ttl:
            raise ConfigurationError("jwks_min_ttl must not exceed jwks_max_ttl.")
        for name in ("max_token_bytes", "jwks_max_bytes", "token_cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(f"{name} must be a whole number >= 0, got {value!r}.")
        if self.max_token_bytes < 64 or self.jwks_max_bytes < 64:
            raise ConfigurationError("max_token_bytes and jwks_max_bytes must be at least 64.")
        self._check_api_keys()

    def _check_api_keys(self) -> None:
        set_ = object.__setattr__
        set_(self, "api_key_prefixes", _words(self.api_key_prefixes, "api_key_prefixes"))
        for name in ("m2m_client_id", "m2m_client_secret"):
            if not isinstance(getattr(self, name), str):
                raise ConfigurationError(f"{name} must be a string.")
        for name in ("api_key_cache_ttl", "api_key_verify_rate"):
            _positive(name, getattr(self, name))
        for name in ("api_key_negative_ttl", "api_key_max_stale", "api_key_cooldown"):
            _positive(name, getattr(self, name), allow_zero=True)
        for name in ("api_key_verify_burst", "api_key_cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a whole number >= 1, got {value!r}.")
        if not self.api_keys:
            return
        if not self.m2m_client_id or not self.m2m_client_secret:
            raise ConfigurationError(
                "api_keys is on but m2m_client_id and m2m_client_secret are not both set: Kinde verifies "
                "API keys only for an M2M application authorised for the Kinde Management API (audience "
                f"{self.domain}/api) with the scope read:api_keys; set its credentials "
                "(KINDE_M2M_CLIENT_ID, KINDE_M2M_CLIENT_SECRET)."
            )
        if not self.api_key_prefixes:
            raise ConfigurationError("api_key_prefixes must name at least one prefix, e.g. ('k_',).")
        if any("." in p for p in self.api_key_prefixes):
            raise ConfigurationError("api_key_prefixes must not contain '.': a value with dots is a JWT's shape.")

    @classmethod
    def from_env(
        cls, prefix: str = "KINDE_", environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> GuardConfig:
        """Build a config from environment variables: ``KINDE_DOMAIN``, ``KINDE_AUDIENCE`` (space
        separated), ``KINDE_ISSUER``, ``KINDE_JWKS_URI`` and one ``KINDE_<FIELD>`` per other field.

        Keyword ``overrides`` win over the environment. A missing or malformed variable raises
        :class:`ConfigurationError` naming it.
        """
        return cls.from_mapping(os.environ if environ is None else environ, prefix=prefix, **overrides)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = "KINDE_", **overrides: Any) -> GuardConfig:
        """Like :meth:`from_env`, from any mapping (e.g. Flask's ``app.config``); values may be
        strings (as in the environment) or already typed (lists, numbers, booleans)."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            var = prefix + ENV_NAMES.get(f.name, f.name.upper())
            if f.name in overrides or var not in values:
                continue
            raw = values[var]
            try:
                kwargs[f.name] = _PARSERS.get(f.name, _parse_words)(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(f"{var}={raw!r} is malformed: {exc}") from None
        kwargs.update(overrides)
        if not kwargs.get("domain"):
            raise ConfigurationError(
                f"{prefix}DOMAIN is not set: set it to your Kinde domain, e.g. https://acme.kinde.com."
            )
        if (
            not kwargs.get("audience")
            and not kwargs.get("insecure_accept_empty_audience")
            and not kwargs.get("resource")
        ):
            raise ConfigurationError(
                f"{prefix}AUDIENCE is not set: set it to your API's audience as registered in Kinde "
                "(several: separate them with spaces)."
            )
        try:
            return cls(**kwargs)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{exc} (from {prefix}* settings)") from None


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _parse_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number of seconds")
    return float(raw)  # type: ignore[arg-type]


def _parse_optional_float(raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _parse_float(raw)


def _parse_int(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    if isinstance(raw, int):
        return raw
    return int(str(raw).strip())


def _parse_str(raw: object) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw.strip()


def _parse_words(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        return tuple(raw.split())
    if isinstance(raw, (list, tuple)):
        return tuple(str(x) for x in raw)
    raise TypeError("expected a space-separated string or a list")


#: Environment names that are not simply the upper-cased field name.
ENV_NAMES: dict[str, str] = {"issuers": "ISSUER"}

_PARSERS: dict[str, Callable[[object], Any]] = {
    "domain": _parse_str,
    "jwks_uri": _parse_str,
    "resource": _parse_str,
    "resource_name": _parse_str,
    "resource_documentation": _parse_str,
    "insecure_accept_empty_audience": _parse_bool,
    "allow_m2m": _parse_bool,
    "allow_user_tokens": _parse_bool,
    "api_keys": _parse_bool,
    "m2m_client_id": _parse_str,
    "m2m_client_secret": _parse_str,
    "max_token_age": _parse_optional_float,
    **{name: _parse_float for name in ("leeway", "jwks_ttl", "jwks_min_ttl", "jwks_max_ttl")},
    **{name: _parse_float for name in ("jwks_cooldown", "jwks_max_stale", "http_timeout")},
    **{name: _parse_int for name in ("max_token_bytes", "jwks_max_bytes", "token_cache_size")},
    **{name: _parse_float for name in ("api_key_cache_ttl", "api_key_negative_ttl", "api_key_max_stale")},
    **{name: _parse_float for name in ("api_key_verify_rate", "api_key_cooldown")},
    **{name: _parse_int for name in ("api_key_verify_burst", "api_key_cache_size")},
}
