"""The SSRF guard's address table and the submit-time URL rules (reelstream.webhooks.targets)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelstream.webhooks.targets import (
    MAX_URL_CHARS,
    SPECIAL_IPV4,
    SPECIAL_IPV6,
    is_blocked_address,
    parse_networks,
    url_problem,
)

# (address, why it is refused): one or more per IANA special-purpose range and embedding form
REFUSED = [
    ("0.1.2.3", "this network"),
    ("10.9.8.7", "private"),
    ("100.64.0.1", "shared address space"),
    ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link local / cloud metadata"),
    ("172.31.255.255", "private"),
    ("192.0.0.9", "IETF protocol assignments (PCP anycast)"),
    ("192.0.0.170", "NAT64 discovery"),
    ("192.0.2.1", "TEST-NET-1"),
    ("192.31.196.1", "AS112-v4"),
    ("192.52.193.1", "AMT"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.168.0.1", "private"),
    ("192.175.48.1", "AS112 direct delegation"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.1", "TEST-NET-2"),
    ("203.0.113.1", "TEST-NET-3"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "limited broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::7f00:1", "IPv4-compatible 127.0.0.1"),
    ("::808:808", "IPv4-compatible 8.8.8.8"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:8.8.8.8", "IPv4-mapped, even of a public address"),
    ("64:ff9b::7f00:1", "NAT64 well-known prefix"),
    ("64:ff9b::808:808", "NAT64 of a public address"),
    ("64:ff9b:1::a00:1", "NAT64 local-use prefix"),
    ("100::1", "discard-only"),
    ("100:0:0:1::1", "dummy prefix"),
    ("2001::1", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo wrapping 127.0.0.1"),
    ("2001:2::1", "benchmarking"),
    ("2001:20::1", "ORCHIDv2"),
    ("2001:db8::1", "documentation"),
    ("2002:7f00:1::1", "6to4 wrapping 127.0.0.1"),
    ("2002:808:808::1", "6to4 of a public address"),
    ("2620:4f:8000::1", "AS112 direct delegation"),
    ("3fff::1", "documentation (RFC 9637)"),
    ("5f00::1", "SRv6 SIDs"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link local"),
    ("fe80::1%eth0", "link local with a zone"),
    ("fec0::1", "site local"),
    ("ff02::1", "multicast"),
    ("4000::1", "outside global unicast 2000::/3"),
    ("not an address", "unparseable"),
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_every_special_purpose_address_is_refused(address: str, why: str) -> None:
    assert is_blocked_address(address), why


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert not is_blocked_address(address)


@pytest.mark.parametrize("network", [*SPECIAL_IPV4, *SPECIAL_IPV6], ids=str)
def test_both_ends_of_every_listed_range_are_refused(network: ipaddress.IPv4Network) -> None:
    assert is_blocked_address(str(network.network_address))
    assert is_blocked_address(str(network.broadcast_address))


@given(st.ip_addresses(v=6))
def test_an_ipv6_address_that_embeds_ipv4_is_never_allowed(ip: ipaddress.IPv6Address) -> None:
    if ip.ipv4_mapped is not None or ip.sixtofour is not None or ip.teredo is not None:
        assert is_blocked_address(str(ip))


def test_the_allow_list_opens_only_its_networks() -> None:
    allow = parse_networks("127.0.0.0/8,::1/128")
    assert not is_blocked_address("127.0.0.1", allow)
    assert not is_blocked_address("::1", allow)
    assert is_blocked_address("::ffff:127.0.0.1", allow)
    assert is_blocked_address("2002:7f00:1::1", allow)


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("https://hooks.example.com/h?t=1", False, None),
        ("http://hooks.example.com/h", True, None),
        ("http://hooks.example.com/h", False, "https"),
        ("ftp://hooks.example.com/h", True, "http(s)"),
        ("https:///no-host", False, "https"),
        ("https://user:pw@hooks.example.com/", False, "credentials"),
        ("https://hooks.example.com:99999/", False, "https"),
        ("https://[::1/", False, "https"),
        ("https://hooks.example.com/a b", False, "spaces"),
        ("https://hooks.example.com/\x00", False, "control"),
        ("https://\u00cf/h", False, "ASCII"),
        ("https://xn--tda.example/h", False, None),
        ("https://127.0.0.1/h", False, "private"),
        ("https://[2002:7f00:1::1]/h", False, "private"),
        ("https://[::ffff:169.254.169.254]/h", False, "private"),
        ("https://169.254.169.254/latest/meta-data/", False, "private"),
        ("https://8.8.8.8/h", False, None),
        ("https://" + "a" * MAX_URL_CHARS, False, "at most 2048"),
    ],
)
def test_url_rules_at_submit(url: str, allow_http: bool, problem: str | None) -> None:
    found = url_problem(url, allow_http=allow_http)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found, found


def test_a_literal_address_in_the_allow_list_passes_at_submit() -> None:
    allow = parse_networks("127.0.0.0/8")
    assert url_problem("http://127.0.0.1:9/h", allow_http=True, allow=allow) is None
