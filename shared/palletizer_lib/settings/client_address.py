"""Who the client is: the connection's peer, or, when the peer is a trusted front (`trusted_proxies`), the
address that front wrote in `X-Forwarded-For`.

Every use of the client's address (the access log, the bad-token limit, the audit log, the connection limit
per client) takes it from `TrustedProxies.client`. With no trusted front (the default) the header is never
read: anyone can write it.
"""

import ipaddress
from collections.abc import Iterable

from palletizer_lib.domain.errors import BadRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def trusted_network(text: object) -> Network:
    """`text` as an address or a network (`10.0.0.5`, `10.0.0.0/24`, `::1`), else `BadRequest`."""
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        raise BadRequest(f"`{text}` is not an IP address or network (10.0.0.5, 10.0.0.0/24, fd00::/8)") from None


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The fronts whose `X-Forwarded-For` is believed: addresses and networks."""

    def __init__(self, networks: Iterable[str | Network] = ()) -> None:
        self.networks = tuple(
            n if isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else trusted_network(n) for n in networks
        )

    def trusts(self, peer: str) -> bool:
        """True if `peer` (an address) is a trusted front."""
        address = _address(peer) if self.networks else None
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: `peer`, unless it is a trusted front; then the rightmost address of
        `forwarded_for` that is not itself a trusted front (the last hop a trusted front saw). An entry that
        is not an address stops the walk: the client is then the trusted hop that passed it on."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        client = peer
        for entry in reversed(forwarded_for.split(",")):
            address = _address(entry)
            if address is None:
                return client
            client = str(address)
            if not self.trusts(client):
                return client
        return client
