"""The client's address behind a configured number of trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from core.net import address_in_networks, client_address, parse_address


def _meta(remote: str, forwarded: str | None = None) -> dict[str, str]:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return meta


def test_without_trusted_proxies_the_client_is_remote_addr_and_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    address = client_address(_meta("198.51.100.7", "203.0.113.9"))

    assert address == ipaddress.ip_address("198.51.100.7")


def test_with_one_trusted_proxy_the_client_is_what_that_proxy_saw(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    address = client_address(_meta("10.0.0.2", "203.0.113.9"))

    assert address == ipaddress.ip_address("203.0.113.9")


def test_with_two_trusted_proxies_the_client_is_what_the_outer_proxy_saw(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    # The outer proxy saw the client (203.0.113.9); the inner one saw the outer (10.0.0.1).

    address = client_address(_meta("10.0.0.2", "203.0.113.9, 10.0.0.1"))

    assert address == ipaddress.ip_address("203.0.113.9")


@pytest.mark.parametrize(
    ("trusted", "forwarded"),
    [
        (1, "192.0.2.1, 203.0.113.9"),
        (1, "192.0.2.1, 192.0.2.2,203.0.113.9"),
        (2, "192.0.2.1, 203.0.113.9, 10.0.0.1"),
    ],
)
def test_entries_a_client_adds_on_the_left_are_never_used(settings, trusted, forwarded):
    settings.TRUSTED_PROXY_COUNT = trusted

    address = client_address(_meta("10.0.0.2", forwarded))

    assert address == ipaddress.ip_address("203.0.113.9")


def test_several_forwarded_for_headers_count_as_one_list(settings):
    settings.TRUSTED_PROXY_COUNT = 2

    # WSGI servers join repeated headers with commas.
    address = client_address(_meta("10.0.0.2", "192.0.2.1,203.0.113.9,10.0.0.1"))

    assert address == ipaddress.ip_address("203.0.113.9")


@pytest.mark.parametrize("forwarded", [None, "", "203.0.113.9"])
def test_fewer_forwarded_entries_than_trusted_proxies_leave_the_address_unknown(
    settings, forwarded
):
    settings.TRUSTED_PROXY_COUNT = 2

    address = client_address(_meta("203.0.113.9", forwarded))

    assert address is None


def test_an_entry_that_is_not_an_address_leaves_the_address_unknown(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    assert client_address(_meta("10.0.0.2", "203.0.113.9, unknown")) is None
    assert client_address(_meta("10.0.0.2", "203.0.113.9, 10.0.0.0/8")) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.9:51234", "203.0.113.9"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        (" 2001:DB8::7 ", "2001:db8::7"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("fe80::7%eth0", "fe80::7"),
    ],
)
def test_addresses_with_ports_brackets_or_ipv4_in_ipv6_form_are_read(text, expected):
    assert parse_address(text) == ipaddress.ip_address(expected)


def test_ipv6_addresses_match_ipv6_networks_only():
    v6 = ipaddress.ip_address("2001:db8:1::5")

    assert address_in_networks(v6, ["192.0.2.0/24", "2001:db8::/32"])
    assert not address_in_networks(v6, ["192.0.2.0/24", "2001:db9::/32"])
    assert not address_in_networks(ipaddress.ip_address("192.0.2.1"), ["::/0"])
    assert not address_in_networks(None, ["0.0.0.0/0", "::/0"])
