package session

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// validateTrustedProxies checks Options.TrustedProxyHops and
// TrustedProxies, and keeps a copy of TrustedProxies, masked, with
// IPv4-mapped IPv6 prefixes of 96 bits or more as IPv4 prefixes and the
// shorter ones, which hold no address, left out, so that the caller's
// later changes to the slice do not change what is trusted.
func (o *Options) validateTrustedProxies() error {
	if o.TrustedProxyHops < 0 {
		return optionError("TrustedProxyHops is negative (%d): it is the number of reverse proxies in front of the server, 0 for none", o.TrustedProxyHops)
	}
	if o.TrustedProxyHops > 0 && o.TrustProxy {
		return optionError("TrustProxy and TrustedProxyHops are both set: TrustProxy trusts every hop (the first X-Forwarded-For entry, which the client writes, is the client IP), TrustedProxyHops only the nearest %d; set one", o.TrustedProxyHops)
	}
	if o.TrustedProxyHops > 0 && len(o.TrustedProxies) > 0 {
		return optionError("TrustedProxies and TrustedProxyHops are both set: TrustedProxies trusts the proxies at the listed addresses, TrustedProxyHops the nearest %d hops whatever their addresses, and neither says what to trust when the two disagree (Express's trust proxy takes one or the other too); set one", o.TrustedProxyHops)
	}
	if len(o.TrustedProxies) == 0 {
		o.TrustedProxies = nil
		return nil
	}
	if o.TrustProxy {
		return optionError("TrustProxy and TrustedProxies are both set: TrustProxy trusts X-Forwarded-Proto and X-Forwarded-For from any client, TrustedProxies only from the listed proxies; set one")
	}
	trusted := make([]netip.Prefix, 0, len(o.TrustedProxies))
	for i, p := range o.TrustedProxies {
		if !p.IsValid() {
			return optionError("TrustedProxies[%d] is not a valid prefix (the zero netip.Prefix, or an address with a zone)", i)
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				// A mapped prefix under 96 bits (::ffff:10.0.0.0/8,
				// an IPv4 length) holds no address in proxy-addr:
				// it skips a mapped subnet for IPv6 addresses, and
				// one under 96 bits for IPv4 ones. Masked, it
				// would hold IPv6 addresses (::1 in ::/8).
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		trusted = append(trusted, p.Masked())
	}
	o.TrustedProxies = trusted
	return nil
}

// trustedAddr reports whether the address s (a peer's host, or an entry
// of X-Forwarded-For) is in one of the trusted prefixes. As proxy-addr
// (2.0.8, express 5's), an IPv4-mapped IPv6 address is its IPv4 address,
// an IPv4-mapped prefix of 96 bits or more is an IPv4 prefix and a
// shorter one holds nothing (validateTrustedProxies), and no other IPv6
// prefix holds an IPv4 address, even one that spans the mapped range
// (::/80): written for IPv6 peers, it would otherwise trust every IPv4
// client's X-Forwarded-*. A zone of letters and digits is ignored;
// anything that is not an address, as ipaddr.js reads one (a zone with
// other characters, fe80::1%br-lan), is not trusted.
func (m *Manager) trustedAddr(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || !alnumZone(a.Zone()) {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, p := range m.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// alnumZone reports whether zone is empty or letters and digits only, as
// ipaddr.js (proxy-addr's) takes a zone: netip takes any, so that a tab
// after a zoned X-Forwarded-For entry, which express's forwarded keeps,
// would be part of a valid address.
func alnumZone(zone string) bool {
	for i := 0; i < len(zone); i++ {
		c := zone[i]
		if lower := c | 0x20; !('0' <= c && c <= '9' || 'a' <= lower && lower <= 'z') {
			return false
		}
	}
	return true
}

// peerHost is the host of the request's RemoteAddr (all of it if it has
// no port).
func peerHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// trustsHop reports whether hop i, at address addr, is a trusted proxy,
// with TrustedProxyHops or TrustedProxies, as express's compiled trust
// function (addr, i): hop 0 is the peer, hop 1 the last X-Forwarded-For
// entry, and so on leftwards. With TrustedProxyHops n, the hops below n
// whatever their addresses (express's numeric trust proxy, i < n); with
// TrustedProxies, an address in one of them.
func (m *Manager) trustsHop(addr string, i int) bool {
	if n := m.opts.TrustedProxyHops; n > 0 {
		return i < n
	}
	return m.trustedAddr(addr)
}

// trustsForwarded reports whether the request's X-Forwarded-* headers are
// taken: with TrustProxy, always; with TrustedProxyHops, always too (the
// peer is hop 0, trusted by any count from 1 up, as express's req.protocol
// asks its trust function about the peer); with TrustedProxies, when the
// request comes from one of them.
func (m *Manager) trustsForwarded(r *http.Request) bool {
	switch {
	case m.opts.TrustedProxyHops > 0:
		return true
	case m.opts.TrustedProxies != nil:
		return m.trustedAddr(peerHost(r))
	}
	return m.opts.TrustProxy
}

// clientIP is the request's client address. With TrustProxy it is the
// first X-Forwarded-For entry that is not empty (clientIP, as express's
// req.ip with trust proxy true).
// With TrustedProxies or TrustedProxyHops it is the first address, from
// the peer and then X-Forwarded-For from the right (the last header line
// first), that is not a trusted proxy (trustsHop), as express's req.ip with
// trust proxy set to subnets (proxy-addr) or to a hop count: empty entries
// are skipped and count as no hop; with TrustedProxies an entry that is not
// an address is not a trusted proxy, so the walk stops there and it is the
// client IP as written, while a hop count trusts it as any other (express
// too); if every one is trusted, the leftmost entry, so with a count
// larger than the chain, the client's own first entry (or the peer
// without X-Forwarded-For).
func (m *Manager) clientIP(r *http.Request) string {
	if m.opts.TrustedProxies == nil && m.opts.TrustedProxyHops == 0 {
		return clientIP(r, m.opts.TrustProxy)
	}
	addr := peerHost(r)
	hop := 0
	if !m.trustsHop(addr, hop) {
		return addr
	}
	lines := r.Header["X-Forwarded-For"]
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				line, entry = line[:j], line[j+1:]
			} else {
				line, entry = "", line
			}
			entry = strings.Trim(entry, " ") // spaces only, as express (forwarded)
			if entry == "" {
				continue // as proxy-addr, which skips empty entries
			}
			addr = entry
			hop++
			if !m.trustsHop(addr, hop) {
				return addr
			}
		}
	}
	return addr
}
