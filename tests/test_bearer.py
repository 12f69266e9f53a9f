"""parse_authorization: RFC 6750 §2.1 header parsing."""

from __future__ import annotations

import pytest

from kinde_guard import InvalidRequestError, MissingTokenError
from kinde_guard.bearer import parse_authorization


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Bearer a-b_c.d~e+f/g==", "a-b_c.d~e+f/g=="),
        (b"Bearer abc", "abc"),
    ],
)
def test_valid_bearer_values(header: str | bytes, token: str) -> None:
    assert parse_authorization(header) == token


@pytest.mark.parametrize("header", [None, "", "   ", "Basic dXNlcjpwYXNz", "Digest x", "Token abc", "Bearerabc"])
def test_missing_or_other_scheme(header: str | None) -> None:
    with pytest.raises(MissingTokenError) as info:
        parse_authorization(header)
    assert info.value.www_authenticate("api") == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", "Bearer =abc", "Bearer a=b", 'Bearer "abc"']
)
def test_malformed_bearer(header: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_authorization(header)
    assert info.value.status_code == 400
    assert 'error="invalid_request"' in info.value.www_authenticate("api")
