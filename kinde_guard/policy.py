"""What a verified token's claims must say: one check per claim, then the route's requirements
(docs/architecture.md, "Security policy", steps 5-6). No I/O, no web framework.

:meth:`Policy.check_claims` runs the claim checks for every token; :meth:`Policy.authorize` checks a
route's :class:`~kinde_guard.Requirements` per call. :meth:`Policy.explain` runs the same checks on
a verified claim set and reports each one (:class:`CheckResult`) instead of stopping at the first
refusal, for tools that explain a verdict.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .claims import FLAG_TYPES, Claims, FlagValue, Match, flag_value
from .config import GuardConfig
from .errors import (
    AuthError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
)
from .requirements import ClaimsCheck, Requirements

__all__ = [
    "CheckResult",
    "Policy",
    "check_claims_rule",
    "check_feature_flags",
    "check_org_codes",
    "check_roles",
]

logger = logging.getLogger("kinde_guard")

_ABSENT = object()
_MAX_DATE = 2**53


def _numeric_date(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    kind = type(value)
    # A NumericDate is a JSON number (RFC 7519 §2): not a bool, a string or null; finite (inf - inf
    # and nan - nan are nan, not 0) and within ±2**53, so that float arithmetic stays exact and a
    # 400-digit integer cannot overflow the comparisons below.
    if (kind is int or (kind is float and value - value == 0)) and -_MAX_DATE < value < _MAX_DATE:
        return value  # type: ignore[no-any-return]
    raise InvalidClaimError(f'The "{name}" claim is not a NumericDate (a number of seconds).')


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of :meth:`Policy.explain`.

    ``name`` is the claim checked (``"iss"``, ``"aud"``, ``"exp"``, ``"nbf"``, ``"iat"``, ``"azp"``,
    ``"org_code"``) or the authorization step (``"token_type"``; ``"required_scopes"`` and
    ``"required_permissions"``, the policy's own; ``"scopes"``, ``"permissions"``, ``"roles"``,
    ``"feature_flags"``, ``"org_codes"`` and ``"claims_check"``, the route's);
    ``ok`` tells whether it passed; ``reason`` is the refusal's description (the same sentence
    the guard's 401 or 403 carries) when it failed, ``""`` when it passed.
    """

    name: str
    ok: bool
    reason: str


@dataclass(frozen=True)
class Policy:
    """The checks of one GuardConfig, compiled once (sets, not lists; no per-request parsing)."""

    issuers: frozenset[str]
    audiences: frozenset[str]
    accept_empty_audience: bool
    leeway: float
    required_scopes: tuple[str, ...]
    required_permissions: tuple[str, ...]
    allowed_client_ids: frozenset[str]
    allowed_org_codes: frozenset[str]
    allow_m2m: bool
    allow_user_tokens: bool
    max_token_age: float | None
    # True when no option beyond iss/aud/exp/nbf/iat applies: check_claims may take its fast path.
    _plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plain = self.max_token_age is None and not self.allowed_client_ids and not self.allowed_org_codes
        object.__setattr__(self, "_plain", plain)

    @classmethod
    def from_config(cls, config: GuardConfig) -> Policy:
        return cls(
            issuers=frozenset(config.issuers),
            audiences=frozenset(config.audience),
            accept_empty_audience=config.insecure_accept_empty_audience,
            leeway=float(config.leeway),
            required_scopes=tuple(config.required_scopes),
            required_permissions=tuple(config.required_permissions),
            allowed_client_ids=frozenset(config.allowed_client_ids),
            allowed_org_codes=frozenset(config.allowed_org_codes),
            allow_m2m=config.allow_m2m,
            allow_user_tokens=config.allow_user_tokens,
            max_token_age=config.max_token_age,
        )

    # -- claims: one check per claim -------------------------------------------------------------

    def check_claims(self, payload: Mapping[str, Any], now: float) -> float:
        """Run every claim check; return the time until which the verdict holds (for caching)."""
        # The shape Kinde issues (string iss, one-element aud list, integer dates), every check
        # passing, is accepted in one expression here; any other payload, and every refusal, takes
        # the claim-by-claim checks, which name the failing claim. tests/test_properties.py checks
        # that both ways give the same verdict on generated payloads.
        get = payload.get
        iss, aud, exp, nbf, iat = get("iss"), get("aud"), get("exp"), get("nbf", _ABSENT), get("iat", _ABSENT)
        limit = now + self.leeway
        if (
            self._plain
            and type(iss) is str
            and iss in self.issuers
            and type(aud) is list
            and len(aud) == 1
            and type(aud[0]) is str
            and aud[0] in self.audiences
            and type(exp) is int
            and -_MAX_DATE < exp < _MAX_DATE
            and now < exp + self.leeway
            and (nbf is _ABSENT or (type(nbf) is int and -_MAX_DATE < nbf <= limit))
            and (iat is _ABSENT or (type(iat) is int and -_MAX_DATE < iat <= limit))
        ):
            return exp + self.leeway
        return self.check_claims_one_by_one(payload, now)

    def check_claims_one_by_one(self, payload: Mapping[str, Any], now: float) -> float:
        """:meth:`check_claims` without its fast path: each claim in turn, refusals naming it."""
        self._check_iss(payload)
        self._check_aud(payload)
        valid_until = self._check_exp(payload, now)
        self._check_nbf(payload, now)
        valid_until = min(valid_until, self._check_iat(payload, now))
        self._check_azp(payload)
        self._check_org_code(payload)
        return valid_until

    def _check_iss(self, payload: Mapping[str, Any]) -> None:
        iss = payload.get("iss")
        if type(iss) is not str or iss not in self.issuers:
            raise InvalidIssuerError('The "iss" claim is missing or not an accepted issuer.')

    def _check_aud(self, payload: Mapping[str, Any]) -> None:
        aud = payload.get("aud")
        # RFC 7519 §4.1.3: aud is an array of strings, or a single string.
        if type(aud) is str:
            aud = [aud]
        elif aud is None:
            aud = []
        elif type(aud) is not list or any(type(a) is not str for a in aud):
            raise InvalidAudienceError('The "aud" claim is not a string or an array of strings.')
        if not aud:
            # An empty aud names no API; it passes only under the explicit insecure opt-out.
            if self.accept_empty_audience:
                return
            raise InvalidAudienceError(
                'The "aud" claim is missing or empty: request the token with this API\'s audience.'
            )
        if self.audiences.isdisjoint(aud):
            raise InvalidAudienceError('The "aud" claim does not name this API.')

    def _check_exp(self, payload: Mapping[str, Any], now: float) -> float:
        exp = _numeric_date(payload, "exp")
        if exp is None:
            raise InvalidClaimError('The token has no "exp" claim; tokens without an expiry are refused.')
        if now >= exp + self.leeway:
            raise ExpiredTokenError('The "exp" claim is in the past: the token expired.')
        return exp + self.leeway

    def _check_nbf(self, payload: Mapping[str, Any], now: float) -> None:
        nbf = _numeric_date(payload, "nbf")
        if nbf is not None and nbf > now + self.leeway:
            raise InvalidClaimError('The "nbf" claim is in the future: the token is not valid yet.')

    def _check_iat(self, payload: Mapping[str, Any], now: float) -> float:
        iat = _numeric_date(payload, "iat")
        if iat is None:
            if self.max_token_age is not None:
                raise InvalidClaimError('The token has no "iat" claim, needed to check its age.')
            return math.inf
        if iat > now + self.leeway:
            raise InvalidClaimError('The "iat" claim is in the future.')
        if self.max_token_age is None:
            return math.inf
        valid_until = iat + self.max_token_age + self.leeway
        if now >= valid_until:
            raise ExpiredTokenError('The "iat" claim is too old: the token exceeds the maximum age.')
        return valid_until

    def _check_azp(self, payload: Mapping[str, Any]) -> None:
        if self.allowed_client_ids and payload.get("azp") not in self.allowed_client_ids:
            raise InvalidClaimError('The "azp" claim names a client this API does not accept.')

    def _check_org_code(self, payload: Mapping[str, Any]) -> None:
        if self.allowed_org_codes and payload.get("org_code") not in self.allowed_org_codes:
            raise InvalidClaimError('The "org_code" claim names an organization this API does not accept.')

    # -- authorization, per call -----------------------------------------------------------------

    def authorize(self, claims: Claims, needs: Requirements) -> None:
        """Token type, the guard's own required scopes and permissions, then the route's ``needs``;
        raise InsufficientScopeError on a miss."""
        if not (self.allow_m2m and self.allow_user_tokens):
            self._check_token_type(claims)
        if self.required_scopes:
            _require(claims.scopes, self.required_scopes, "all", "scope")
        if self.required_permissions:
            _require(claims.permissions, self.required_permissions, "all", "permission")
        if needs.scopes:
            _require(claims.scopes, needs.scopes, needs.match, "scope")
        if needs.permissions:
            _require(claims.permissions, needs.permissions, needs.match, "permission")
        # Roles and flags: one set operation each on sets the cached Claims remember, as for scopes;
        # the check functions run only to explain a refusal.
        roles = needs.roles
        if roles and not (
            claims.role_keys.issuperset(roles) if needs.match == "all" else not claims.role_keys.isdisjoint(roles)
        ):
            check_roles(claims, roles, needs.match)
        if needs.flag_items and not claims.flag_items.issuperset(needs.flag_items):
            check_feature_flags(claims, needs.feature_flags)
        if needs.org_codes:
            check_org_codes(claims, needs.org_codes)
        if needs.claims_check is not None:
            check_claims_rule(claims, needs.claims_check, needs.claims_check_message)

    @property
    def always_authorizes(self) -> bool:
        """Whether :meth:`authorize` checks something even for a route with no requirements."""
        return bool(
            self.required_scopes or self.required_permissions or not self.allow_m2m or not self.allow_user_tokens
        )

    def _check_token_type(self, claims: Claims) -> None:
        # allow_m2m / allow_user_tokens sort access tokens; an API key is neither kind (api_keys,
        # and a route's accept_api_keys, are its switches).
        if claims.credential == "api_key":
            return
        if claims.is_m2m and not self.allow_m2m:
            raise InsufficientScopeError("This API does not accept machine-to-machine tokens.")
        if not claims.is_m2m and not self.allow_user_tokens:
            raise InsufficientScopeError("This API accepts only machine-to-machine tokens.")

    # -- explaining, check by check --------------------------------------------------------------

    def explain(
        self,
        payload: Mapping[str, Any],
        now: float,
        requirements: Requirements | None = None,
        *,
        scopes: Iterable[str] = (),
        permissions: Iterable[str] = (),
        match: Match = "all",
    ) -> list[CheckResult]:
        """Every check of :meth:`check_claims` and :meth:`authorize` on a verified claim set, each
        one run and reported even after a failure, in the order the guard runs them.

        The token passes exactly when every result is ``ok``; the first failing result's reason is
        the refusal the guard would answer. Call it only on a payload whose signature is verified
        (:func:`parse_payload` after :func:`verify_signature`). The route's needs are a
        :class:`~kinde_guard.Requirements` or, as before, ``scopes`` / ``permissions`` / ``match``.

        >>> policy = Policy.from_config(GuardConfig(domain="https://acme.kinde.com", audience="https://api"))
        >>> payload = {"iss": "https://acme.kinde.com", "aud": ["https://api"], "exp": 2000, "scp": []}
        >>> [r.name for r in policy.explain(payload, now=1000, scopes=["read:orders"]) if not r.ok]
        ['scopes']
        >>> payload["roles"] = [{"id": "1", "key": "viewer", "name": "Viewer"}]
        >>> [r.name for r in policy.explain(payload, 1000, Requirements(roles=["admin"])) if not r.ok]
        ['roles']
        """
        if requirements is None:
            requirements = Requirements(scopes=scopes, permissions=permissions, match=match)
        elif tuple(scopes) or tuple(permissions) or match != "all":
            raise TypeError("Pass either requirements or scopes=/permissions=/match=, not both.")
        needs = requirements
        claims = Claims.from_payload(payload)

        def require(granted: frozenset[str], wanted: Iterable[str], how: Match, kind: str) -> Callable[[], None]:
            wanted = tuple(wanted)
            return lambda: _require(granted, wanted, how, kind) if wanted else None

        # In the order check_claims_one_by_one and then authorize run them, so that the first
        # failing result is the refusal the guard answers.
        steps: tuple[tuple[str, Callable[[], object]], ...] = (
            ("iss", lambda: self._check_iss(payload)),
            ("aud", lambda: self._check_aud(payload)),
            ("exp", lambda: self._check_exp(payload, now)),
            ("nbf", lambda: self._check_nbf(payload, now)),
            ("iat", lambda: self._check_iat(payload, now)),
            ("azp", lambda: self._check_azp(payload)),
            ("org_code", lambda: self._check_org_code(payload)),
            ("token_type", lambda: self._check_token_type(claims)),
            ("required_scopes", require(claims.scopes, self.required_scopes, "all", "scope")),
            ("required_permissions", require(claims.permissions, self.required_permissions, "all", "permission")),
            ("scopes", require(claims.scopes, needs.scopes, needs.match, "scope")),
            ("permissions", require(claims.permissions, needs.permissions, needs.match, "permission")),
            ("roles", lambda: check_roles(claims, needs.roles, needs.match) if needs.roles else None),
            (
                "feature_flags",
                lambda: check_feature_flags(claims, needs.feature_flags) if needs.feature_flags else None,
            ),
            ("org_codes", lambda: check_org_codes(claims, needs.org_codes) if needs.org_codes else None),
            ("claims_check", lambda: _explain_rule(claims, needs)),
        )
        results = []
        for name, step in steps:
            try:
                step()
            except AuthError as exc:
                results.append(CheckResult(name, False, exc.description))
            else:
                results.append(CheckResult(name, True, ""))
        return results


def _require(granted: frozenset[str], wanted: Iterable[str], match: Match, kind: str) -> None:
    wanted = wanted if isinstance(wanted, (tuple, list)) else tuple(wanted)
    if granted.issuperset(wanted) if match == "all" else not granted.isdisjoint(wanted):
        return
    missing = [w for w in wanted if w not in granted]
    how = "all of" if match == "all" else "one of"
    raise InsufficientScopeError(
        f"The token lacks the required {kind} ({how}: {', '.join(wanted)}; missing: {', '.join(missing)}).",
        # The challenge's scope= names OAuth scopes only; permissions are not scopes (RFC 6750 §3).
        required_scopes=wanted if kind == "scope" else (),
    )


# -- the route's Kinde requirements: one function per kind -------------------------------------------
#
# Each takes the fast way first (one set operation or a few dict lookups on claims the cached
# verdict already holds) and only on a refusal reads the raw claim again to say what is wrong:
# absent (an opt-in claim that is not enabled in Kinde), malformed, or not what the route needs.
# Every refusal is 403 insufficient_scope without a scope= parameter (these are not OAuth scopes).

_ROLES_HOWTO = (
    "enable Roles in the Kinde application's token customization "
    "(Settings > Applications > your application > Tokens > Access token > Customize)"
)
_FLAGS_HOWTO = (
    "enable feature flags in the Kinde application's token customization "
    "(Settings > Applications > your application > Tokens; for an M2M application, its Tokens tab)"
)
_FLAG_SHAPE = '{"t": "b" | "i" | "s", "v": <a value of that type>}'
_TYPE_CODES: Mapping[type, str] = {python: code for code, python in FLAG_TYPES.items()}


def _listed(wanted: Iterable[str], match: Match) -> str:
    return f"{'all of' if match == 'all' else 'one of'}: {', '.join(wanted)}"


def _role_shape_ok(roles: object) -> bool:
    if type(roles) is not list:
        return False
    return all(type(r) is dict and type(r.get("key")) is str and r.get("key") for r in roles)


def check_roles(claims: Claims, wanted: tuple[str, ...], match: Match = "all") -> None:
    """The token's ``roles`` hold the ``wanted`` role keys (all, or one with ``match="any"``)."""
    granted = claims.role_keys
    if granted.issuperset(wanted) if match == "all" else not granted.isdisjoint(wanted):
        return
    raw = claims.raw.get("roles")
    if raw is None:
        raise InsufficientScopeError(
            f'The token has no "roles" claim, so it cannot show the required role ({_listed(wanted, match)}): '
            f"{_ROLES_HOWTO}."
        )
    if not _role_shape_ok(raw):
        raise InsufficientScopeError(
            'The "roles" claim is malformed: it must be a list of objects each with a string "key", '
            'as Kinde issues it ([{"id": ..., "key": "admin", "name": "Admin"}]).'
        )
    _require(granted, wanted, match, "role")


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_feature_flags(claims: Claims, wanted: tuple[tuple[str, FlagValue], ...]) -> None:
    """Each ``(code, value)`` flag is in the token's ``feature_flags`` with ``value``'s Kinde type
    (``bool`` "b", ``int`` "i", ``str`` "s") and equal to it. ``True`` never matches an integer 1."""
    flags = claims.raw.get("feature_flags")
    if type(flags) is dict:
        for code, value in wanted:
            found = flag_value(flags.get(code))
            if type(found) is not type(value) or found != value:
                break
        else:
            return
    # (Policy.authorize asks claims.flag_items first; this loop is the same rule, said per flag.)
    listed = ", ".join(f"{code}={json.dumps(value)}" for code, value in wanted)
    if flags is None:
        raise InsufficientScopeError(
            f'The token has no "feature_flags" claim, so it cannot show the required feature flag '
            f"(all of: {listed}): {_FLAGS_HOWTO}."
        )
    if type(flags) is not dict:
        raise InsufficientScopeError(f'The "feature_flags" claim is malformed: it must be an object of {_FLAG_SHAPE}.')
    unmet = []
    for code, value in wanted:
        entry = flags.get(code)
        if entry is None:
            unmet.append(f"{code} (absent)")
            continue
        found = flag_value(entry)
        if found is None:
            raise InsufficientScopeError(f'The "feature_flags" claim is malformed: flag "{code}" is not {_FLAG_SHAPE}.')
        if type(found) is not type(value):
            kind = {"b": "a boolean", "i": "an integer", "s": "a string"}[_TYPE_CODES[type(found)]]
            unmet.append(f"{code} ({kind} flag, {_shown(found)})")
        elif found != value:
            unmet.append(f"{code} (token: {_shown(found)})")
    raise InsufficientScopeError(
        f"The token lacks the required feature flag (all of: {listed}; not met: {', '.join(unmet)})."
    )


def check_org_codes(claims: Claims, wanted: tuple[str, ...]) -> None:
    """The token's ``org_code`` is one of ``wanted``."""
    if claims.org_code in wanted:
        return
    raw = claims.raw.get("org_code")
    which = f"the organization {wanted[0]}" if len(wanted) == 1 else f"one of the organizations {', '.join(wanted)}"
    if raw is None:
        raise InsufficientScopeError(
            f'The token has no "org_code" claim: this route requires a token for {which} '
            "(sign in to the organization; for M2M, use an application scoped to it)."
        )
    if type(raw) is not str:
        raise InsufficientScopeError('The "org_code" claim is malformed: it must be a string (org_...).')
    raise InsufficientScopeError(f"The token is for the organization {_shown(raw)}; this route requires {which}.")


def check_claims_rule(claims: Claims, rule: ClaimsCheck, message: str) -> None:
    """The route's own ``claims_check(claims)`` returns ``True``; anything else, or an exception,
    refuses with ``message``. An exception is logged (its type and traceback; never the token)."""
    try:
        passed = rule(claims) is True
    except Exception:
        # A bug in the route's rule must refuse (fail closed), never answer 500 or let the request in.
        logger.warning(
            "claims_check %s raised: the request is refused", getattr(rule, "__qualname__", "rule"), exc_info=True
        )
        passed = False
    if not passed:
        raise InsufficientScopeError(message)


def _explain_rule(claims: Claims, needs: Requirements) -> None:
    if needs.claims_check is not None:
        check_claims_rule(claims, needs.claims_check, needs.claims_check_message)
