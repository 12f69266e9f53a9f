"""The token helper's device authorization flow (RFC 8628): ``kinde-guard token --device``.

For a terminal with no browser next to it (SSH, a container, a remote dev box): the command asks
the device authorization endpoint for a code, shows the user code and the verification URL on
stderr, and polls the token endpoint while the user signs in on any other device.

>>> poller = DevicePoller("https://acme.kinde.com/oauth2/token", {}, interval=5, expires_in=600)
>>> poller.interval, poller.expires_in
(5.0, 600.0)

Written to the RFC, not to one server: the endpoint comes from the discovery document's
``device_authorization_endpoint`` (else Kinde's ``/oauth2/device/auth``); an absent ``interval``
means 5 seconds (§3.2); polls are never closer than the interval, ``slow_down`` adds 5 seconds to it
for good, and a token endpoint that cannot be reached doubles it (§3.5); polling stops when the
code expires (``expires_in``). The clock and the sleep are injectable, so tests measure the spacing
of polls without waiting for it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from .loopback import TokenHelperError
from .token_helper import (
    DEFAULT_SCOPE,
    EndpointUnreachable,
    discover,
    post_form,
    refusal,
)

__all__ = ["DEVICE_CODE_GRANT", "DeviceAuthorization", "DeviceFlow", "DevicePoller", "qr_code_lines"]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 §3.2: the interval a client uses when the server names none.
DEFAULT_INTERVAL = 5.0
#: RFC 8628 §3.5: what ``slow_down`` adds to the interval, for this and every later poll.
SLOW_DOWN_STEP = 5.0
#: Polls are never closer than this, whatever the server says (an ``interval`` of 0 would spin).
MIN_INTERVAL = 1.0
#: The most an unreachable token endpoint stretches the interval to (exponential backoff, §3.5).
MAX_BACKOFF_INTERVAL = 60.0


def _seconds(value: object, default: float, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return max(float(value), minimum)


@dataclass(frozen=True)
class DeviceAuthorization:
    """The device authorization endpoint's answer (RFC 8628 §3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float

    @classmethod
    def parse(cls, doc: dict[str, Any], endpoint: str) -> DeviceAuthorization:
        """Read an answer; TokenHelperError naming the first required field that is missing."""
        # verification_url: the spelling of servers written before the RFC settled on _uri.
        uri = doc.get("verification_uri") or doc.get("verification_url")
        for name, value in (("device_code", doc.get("device_code")), ("user_code", doc.get("user_code"))):
            if not isinstance(value, str) or not value:
                raise TokenHelperError(f"the device authorization endpoint {endpoint} answered without a {name}.")
        if not isinstance(uri, str) or not uri:
            raise TokenHelperError(f"the device authorization endpoint {endpoint} answered without a verification_uri.")
        complete = doc.get("verification_uri_complete")
        return cls(
            device_code=doc["device_code"],
            user_code=doc["user_code"],
            verification_uri=uri,
            verification_uri_complete=complete if isinstance(complete, str) and complete else None,
            # expires_in is required; a server that leaves it out gets Kinde's 600 seconds.
            expires_in=_seconds(doc.get("expires_in"), 600.0),
            interval=_seconds(doc.get("interval"), DEFAULT_INTERVAL, MIN_INTERVAL),
        )


def request_device_authorization(
    endpoint: str, client_id: str, client_secret: str | None, scope: str, audiences: Sequence[str]
) -> DeviceAuthorization:
    """POST the device authorization request (RFC 8628 §3.1; Kinde also takes ``audience``)."""
    fields = {"client_id": client_id}
    if scope:
        fields["scope"] = scope
    if audiences:
        fields["audience"] = " ".join(audiences)  # Kinde: several audiences, one value
    if client_secret:
        fields["client_secret"] = client_secret
    what = "the device authorization endpoint"
    status, doc = post_form(endpoint, fields, what=what)
    if status != 200 or "error" in doc:
        raise refusal(doc, status, what)
    return DeviceAuthorization.parse(doc, endpoint)


@dataclass
class DevicePoller:
    """Poll the token endpoint with a device code until a token, a final error or the code's expiry.

    ``interval`` and ``expires_in`` are the device authorization's; ``clock`` (monotonic seconds)
    and ``sleep`` are injectable; ``say`` gets the notes for the user (slow_down, backoff).
    """

    token_endpoint: str
    fields: dict[str, str]
    interval: float
    expires_in: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = field(default=lambda message: None)

    def __post_init__(self) -> None:
        self.interval = max(float(self.interval), MIN_INTERVAL)
        self.expires_in = float(self.expires_in)

    def poll(self) -> dict[str, Any]:
        """The token response, or TokenHelperError (denied, expired, refused) in one sentence."""
        start = self.clock()
        deadline = start + self.expires_in
        last = start  # the code was just issued: a full interval before the first poll as well
        unreachable = False
        while True:
            due = last + self.interval
            if due >= deadline:
                raise _expired()
            self._wait_until(due)
            last = self.clock()
            try:
                status, doc = post_form(self.token_endpoint, self.fields)
            except EndpointUnreachable as exc:
                self.interval = min(self.interval * 2, max(MAX_BACKOFF_INTERVAL, self.interval))
                if not unreachable:
                    self.say(f"{exc} Still trying, every {self.interval:g} s at most.")
                unreachable = True
                continue
            unreachable = False
            error = doc.get("error")
            if error is None and status == 200:
                if not isinstance(doc.get("access_token"), str):
                    raise TokenHelperError(
                        f"the token endpoint {self.token_endpoint} answered without an access_token."
                    )
                return doc
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                self.interval += SLOW_DOWN_STEP
                self.say(f"The server asked to poll less often: every {self.interval:g} s from now on.")
                continue
            if error == "access_denied":
                raise TokenHelperError("the sign-in was denied on the verification page (access_denied); no token.")
            if error == "expired_token":
                raise _expired()
            raise refusal(doc, status)

    def _wait_until(self, due: float) -> None:
        # Sleep may return early (and a clock may be coarse): never poll before ``due``.
        while (now := self.clock()) < due:
            self.sleep(due - now)


def _expired() -> TokenHelperError:
    return TokenHelperError("the device code expired before the sign-in was completed; run the command again.")


def qr_code_lines(text: str) -> list[str] | None:
    """``text`` as a QR code drawn with block characters, or None when the optional ``qrcode``
    package (the ``qr`` extra) is not installed."""
    try:
        import qrcode  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ModuleNotFoundError:
        return None
    code = qrcode.QRCode(border=2)
    code.add_data(text)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    # Two rows per line: upper half block, lower half block, full block or space (dark = set).
    glyphs = {(False, False): " ", (True, False): "\u2580", (False, True): "\u2584", (True, True): "\u2588"}
    return [
        "".join(glyphs[top, bottom] for top, bottom in zip(matrix[i], matrix[i + 1], strict=True))
        for i in range(0, len(matrix), 2)
    ]


def _terminal_shows_qr(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM", "") != "dumb" and "utf" in (stream.encoding or "").lower()


@dataclass
class DeviceFlow:
    """One device authorization sign-in (RFC 8628), the counterpart of ``AuthFlow``."""

    domain: str
    client_id: str
    client_secret: str | None = None
    audiences: Sequence[str] = ()
    scope: str = DEFAULT_SCOPE
    log: TextIO = sys.stderr
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self) -> dict[str, Any]:
        """Show the code, wait for the sign-in on another device; the token endpoint's answer."""
        endpoints = discover(self.domain)
        auth = request_device_authorization(
            endpoints.device_authorization, self.client_id, self.client_secret, self.scope, self.audiences
        )
        self.show(auth)
        fields = {"grant_type": DEVICE_CODE_GRANT, "device_code": auth.device_code, "client_id": self.client_id}
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        poller = DevicePoller(
            endpoints.token, fields, auth.interval, auth.expires_in, clock=self.clock, sleep=self.sleep, say=self._say
        )
        return poller.poll()

    def show(self, auth: DeviceAuthorization) -> None:
        """The user code and where to enter it (stderr): the complete URL, when given, carries the code."""
        if auth.verification_uri_complete:
            self._say(f"To sign in, open this URL on any device:\n\n  {auth.verification_uri_complete}\n")
            self._say(f"and check that it shows the code  {auth.user_code}")
            lines = qr_code_lines(auth.verification_uri_complete) if _terminal_shows_qr(self.log) else None
            if lines:
                self._say("\nOr scan this QR code:\n\n" + "\n".join("  " + line for line in lines) + "\n")
        else:
            self._say(f"To sign in, open {auth.verification_uri} on any device and enter the code  {auth.user_code}")
        minutes = f"{auth.expires_in / 60:g} min" if auth.expires_in >= 60 else f"{auth.expires_in:g} s"
        self._say(f"Waiting for the sign-in (the code expires in {minutes}; Ctrl-C to stop)...")

    def _say(self, message: str) -> None:
        print(message, file=self.log, flush=True)
