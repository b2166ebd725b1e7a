"""Serving one WSGI app with waitress on several listeners: plain, TLS and unix sockets, with allow-lists.

waitress accepts every connection itself (`server`). A TLS connection is handed to one asyncio thread that
does the handshake (with a timeout, so a silent or broken client costs nothing but that connection) and then
relays plaintext over a socketpair whose waitress channel carries the client's real address (`tls_relay`).
A client outside a listener's `allow` networks gets a 403 as soon as its request headers are read, before any
body, and never reaches the app (`parser`); on a TLS listener it is closed at once, before any handshake.
Every connection, a TLS one from its first byte, passes a `Gate` that bounds how many are open, in all and
per client address (a trusted front's connections, which carry many clients, only in all) (`gate`,
`channel`). The client of a request is its connection's peer, or, from a trusted front, the address that
front put in `X-Forwarded-For` (`client_address.TrustedProxies`): what the body rules and the app
(`REMOTE_ADDR`) see. The listening sockets are opened before any of this (`sockets`).
"""
