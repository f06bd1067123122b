package storeurl

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// splitHosts parses the host part of a URL that names several servers,
// "h1:7000,h2:7001,[::1]:7002", into host:port addresses in the URL's order.
// A host without a port gets defaultPort; so does an IPv6 address in
// brackets ("[::1]") or without ("::1"). Empty entries ("h1,,h2", a
// trailing comma) are skipped; a URL without hosts gives none, and the
// scheme decides whether that is an error. A port that is not a number from
// 1 to 65535, an empty host name, or an entry that is none of these forms
// ("h:1:2", "[::1]x", a bracket left open) is an error naming the entry.
func splitHosts(hostList, defaultPort string) ([]string, error) {
	var addrs []string
	for h := range strings.SplitSeq(hostList, ",") {
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil { // no port
			host, port = h, defaultPort
			if inner, ok := strings.CutPrefix(h, "["); ok {
				host, ok = strings.CutSuffix(inner, "]")
				if !ok || strings.ContainsAny(host, "[]") {
					return nil, fmt.Errorf("host %q: not a host, host:port, [IPv6 address] or [IPv6 address]:port", h)
				}
			} else if a, err := netip.ParseAddr(h); strings.ContainsAny(h, "[]") || (strings.Contains(h, ":") && (err != nil || !a.Is6())) {
				return nil, fmt.Errorf("host %q: not a host, host:port, [IPv6 address] or [IPv6 address]:port", h)
			}
		}
		if host == "" {
			return nil, fmt.Errorf("host %q: no host name", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("host %q: the port must be a number from 1 to 65535", h)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	return addrs, nil
}
