"""Where a webhook may go (the SSRF guard): pure rules, no HTTP import.

Two checks, at two times. At submit (ingest), a webhook URL is checked for its form: http(s) with a host,
at most `MAX_URL_CHARS` characters, `https` unless the deployment allows `http` (dev and tests), and a host
that is a literal address must be a public one. At delivery (the notifier's transport), a host name is
resolved and every address it resolves to must be public, then the checked address is the one connected
to (no DNS rebinding window).

"Public" is narrower than `ipaddress`' `is_global`: every range of IANA's IPv4 and IPv6 Special-Purpose
Address Registries is refused, and so are the IPv6 forms that carry an IPv4 address inside them (IPv4-
mapped and -compatible, 6to4, Teredo, NAT64), whose embedded address a relay or the host's own stack may
reach (a 6to4 address wrapping 127.0.0.1 passed `is_global` on Python 3.11). Outside 2000::/3 no IPv6
address is global unicast, so only that block is allowed at all.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from reelstream.errors import ConfigurationError

BLOCKED_TARGET = "blocked_target"
MAX_URL_CHARS = 2048
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA IPv4 Special-Purpose Address Registry (every entry, globally reachable or not), plus multicast
SPECIAL_IPV4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # this network
        "10.0.0.0/8",  # private use
        "100.64.0.0/10",  # shared address space (CGNAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link local (cloud metadata)
        "172.16.0.0/12",  # private use
        "192.0.0.0/24",  # IETF protocol assignments (incl. DS-Lite, PCP/TURN anycast, NAT64 discovery)
        "192.0.2.0/24",  # documentation TEST-NET-1
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private use
        "192.175.48.0/24",  # direct delegation AS112 service
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation TEST-NET-2
        "203.0.113.0/24",  # documentation TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. limited broadcast 255.255.255.255
    )
)

# IANA IPv6 Special-Purpose Address Registry, plus the deprecated and non-unicast blocks
SPECIAL_IPV6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible addresses
        "::ffff:0:0/96",  # IPv4-mapped
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use prefix
        "100::/64",  # discard-only
        "100:0:0:1::/64",  # dummy IPv6 prefix
        "2001::/23",  # IETF protocol assignments (Teredo 2001::/32, benchmarking, ORCHID, AMT, AS112, …)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "2620:4f:8000::/48",  # direct delegation AS112 service
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing (SRv6) SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link local
        "fec0::/10",  # deprecated site local
        "ff00::/8",  # multicast
    )
)
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


def parse_networks(spec: str) -> tuple[Network, ...]:
    """`127.0.0.0/8,::1/128` → networks (the allow-list for dev and tests); a bad CIDR is a config error."""
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigurationError(f"invalid network in webhook allow-list: {exc}") from exc


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A literal IP address (an IPv6 zone `%eth0` dropped), or None for anything else (a host name)."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def is_special(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `ip` lies in a special-purpose range (or, for IPv6, outside global unicast)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in SPECIAL_IPV4) or not ip.is_global
    if ip not in GLOBAL_UNICAST_V6 or any(ip in net for net in SPECIAL_IPV6):
        return True
    return not ip.is_global


def is_blocked_address(address: str, allow: tuple[Network, ...] = ()) -> bool:
    """Whether a webhook may not connect to `address`: anything but a public unicast address, unless an
    allow-list network contains it. Unparseable addresses are blocked."""
    ip = parse_address(address)
    if ip is None:
        return True
    if any(ip.version == net.version and ip in net for net in allow):
        return False
    return is_special(ip)


def url_problem(url: str, *, allow_http: bool, allow: tuple[Network, ...] = ()) -> str | None:
    """Why `url` may not be a webhook target (None: it may), judged from the URL alone: at most
    `MAX_URL_CHARS` characters, https (http too where `allow_http`), a host, no credentials, and, where the
    host is a literal address, a public one (a host name is resolved and checked at delivery)."""
    if len(url) > MAX_URL_CHARS:
        return f"must be at most {MAX_URL_CHARS} characters (got {len(url)})"
    if not url.isascii():
        return "must be ASCII (an IDN host in punycode, other characters percent-encoded)"
    if any(ch.isspace() or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # a port out of range raises here
    except ValueError:
        return "must be an absolute https URL"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not host:
        return "must be an absolute http(s) URL" if allow_http else "must be an absolute https URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    literal = parse_address(host)
    if literal is not None and is_blocked_address(host, allow):
        return "must not point to a private, loopback or special-purpose address"
    return None
