"""Authentication: the JWT in ``auth.token`` of the CONNECT packet."""

import base64
import json
import warnings
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from jwt.warnings import InsecureKeyLengthWarning
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_valid_access_token_connects(server, connect, user):
    client = await connect(server, user)
    assert client.sio.connected


def _expired(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


def _bad_signature(user) -> str:
    head, body, signature = str(AccessToken.for_user(user)).split(".")
    return ".".join([head, body, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])


def _segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user) -> dict:
    return dict(AccessToken.for_user(user).payload)


def _alg_none(user) -> str:
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(_claims(user))}."


def _hs512_same_key(user) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # only the algorithm matters here
        return jwt.encode(_claims(user), settings.SECRET_KEY, algorithm="HS512")


def _rs256_header(user) -> str:
    # An HMAC signature under a header claiming RS256 (algorithm confusion).
    head = _segment({"alg": "RS256", "typ": "JWT"})
    signed = jwt.encode(_claims(user), settings.SECRET_KEY, algorithm="HS256")
    return ".".join([head, *signed.split(".")[1:]])


def _without(claim: str):
    def make(user) -> str:
        claims = _claims(user)
        del claims[claim]
        return jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")

    return make


def _other_key(user) -> str:
    return jwt.encode(_claims(user), settings.SECRET_KEY + "-not", algorithm="HS256")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda user: None, id="missing"),
        pytest.param(lambda user: "", id="empty"),
        pytest.param(lambda user: "not-a-jwt", id="malformed"),
        pytest.param(_expired, id="expired"),
        pytest.param(lambda user: str(RefreshToken.for_user(user)), id="refresh-token"),
        pytest.param(_bad_signature, id="bad-signature"),
        pytest.param(_alg_none, id="alg-none"),
        pytest.param(_hs512_same_key, id="hs512-same-key"),
        pytest.param(_rs256_header, id="rs256-header"),
        pytest.param(_other_key, id="other-key"),
        pytest.param(_without("user_id"), id="no-user-id"),
        pytest.param(_without("token_type"), id="no-token-type"),
        pytest.param(_without("exp"), id="no-exp"),
    ],
)
async def test_bad_tokens_are_refused_with_authentication_error(server, connect, user, make_token):
    assert await connect.refused(server, make_token(user)) == {"message": "Authentication error"}


async def test_inactive_user_is_refused(server, connect, make_user, token_for):
    user = make_user(is_active=False)
    assert await connect.refused(server, token_for(user)) == {"message": "Authentication error"}


async def test_deleted_user_is_refused(server, connect, make_user, token_for):
    user = make_user()
    token = token_for(user)
    user.delete()
    assert await connect.refused(server, token) == {"message": "Authentication error"}


async def test_connection_without_origin_header_is_accepted(server, user, token_for):
    # Native apps and server-side clients send no Origin header at all.
    from tests.raw import RawSocket

    raw = await RawSocket.open(server.url, origin=None)
    assert (await raw.connect(token_for(user))).startswith("40")
    await raw.close()


async def test_tampered_payload_is_refused(server, connect, make_user, token_for):
    holder, victim = make_user(), make_user()
    head, _, signature = token_for(holder).split(".")
    claims = {**_claims(holder), "user_id": str(victim.pk)}
    forged = ".".join([head, _segment(claims), signature])
    assert await connect.refused(server, forged) == {"message": "Authentication error"}
    # Only the signature is wrong: the same claims, signed, would connect.
    signed = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    assert (await connect(server, token=signed)).sio.connected


def _expired_5s_ago(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=5))
    return str(token)


async def test_leeway_accepts_a_token_expired_within_it(start_server, connect, user):
    server = start_server(JWT_LEEWAY_SECONDS="30")
    assert (await connect(server, token=_expired_5s_ago(user))).sio.connected


async def test_without_leeway_a_token_expired_5s_ago_is_refused(start_server, connect, user):
    server = start_server(JWT_LEEWAY_SECONDS="0")
    refused = await connect.refused(server, _expired_5s_ago(user))
    assert refused == {"message": "Authentication error"}


async def test_user_deactivated_after_the_token_was_issued_is_refused(
    server, connect, make_user, token_for
):
    user = make_user()
    token = token_for(user)
    user.is_active = False
    await user.asave(update_fields=["is_active"])
    assert await connect.refused(server, token) == {"message": "Authentication error"}


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "[1,2]",
        '"a-token"',
        "42",
        "null",
        "{}",
        '{"token":123}',
        '{"token":""}',
        '{"token":null}',
        '{"token":["a"]}',
        '{"token":{"token":"x"}}',
    ],
)
async def test_connect_without_a_token_string_gets_authentication_error(
    server, user, token_for, payload
):
    raw = await RawSocket.open(server.url)
    await raw.send("40" + payload)
    assert await raw.recv() == '44{"message":"Authentication error"}'
    # The socket stays open for another try.
    assert (await raw.connect(token_for(user))).startswith("40")
    await raw.close()
