package session

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// prefixes parses CIDR prefixes for Options.TrustedProxies.
func prefixes(s ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(s))
	for i, p := range s {
		ps[i] = netip.MustParsePrefix(p)
	}
	return ps
}

// recordedIP logs a user in with a request from remoteAddr carrying the
// X-Forwarded-For header lines xff, and returns the client IP that
// RecordClient stored.
func recordedIP(t *testing.T, opts Options, remoteAddr string, xff ...string) string {
	t.Helper()
	opts.RecordClient = true
	m, st := newTestManager(t, opts)
	h := m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.SetUser("ada")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remoteAddr
	if xff != nil {
		req.Header["X-Forwarded-For"] = xff
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	id := ""
	for _, c := range rec.Result().Cookies() {
		id = mustID(t, m, c.Value)
	}
	if rec.Code != http.StatusOK || id == "" {
		t.Fatalf("login: status %d, no session cookie", rec.Code)
	}
	data, _, err := st.Store.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var client clientInfo
	if err := json.Unmarshal(doc[ClientKey], &client); err != nil {
		t.Fatalf("recorded client %s: %v", doc[ClientKey], err)
	}
	return client.IP
}

// Behind a proxy that appends the address it got the request from to
// X-Forwarded-For (nginx's $proxy_add_x_forwarded_for, AWS ALB), the
// first entry is whatever the client wrote. With TrustedProxies, the
// recorded client IP is the entry the trusted proxy appended: a client
// cannot put another address on its "your devices" page.
func TestTrustedProxiesRecordTheClientIPTheProxyAppended(t *testing.T) {
	opts := Options{TrustedProxies: prefixes("10.0.0.0/8")}
	if got := recordedIP(t, opts, "10.0.0.5:40000", "1.2.3.4, 203.0.113.7"); got != "203.0.113.7" {
		t.Fatalf("recorded IP %q, want 203.0.113.7 (the address the trusted proxy appended, not the client's spoofed 1.2.3.4)", got)
	}
	// The same request under TrustProxy records the spoofed entry, as
	// express's req.ip with trust proxy true.
	if got := recordedIP(t, Options{TrustProxy: true}, "10.0.0.5:40000", "1.2.3.4, 203.0.113.7"); got != "1.2.3.4" {
		t.Fatalf("TrustProxy: recorded IP %q, want the first entry 1.2.3.4", got)
	}
}

// A request whose peer is not a trusted proxy (a client that reaches the
// server directly) has its X-Forwarded-For ignored: its own address is
// recorded. Its X-Forwarded-Proto is ignored too (see
// TestTrustedProxiesDecideSecureAutoFromTrustedPeersOnly).
func TestTrustedProxiesIgnoreForwardedForFromAnUntrustedPeer(t *testing.T) {
	opts := Options{TrustedProxies: prefixes("10.0.0.0/8")}
	for _, tc := range []struct{ remote, want string }{
		{"198.51.100.9:5555", "198.51.100.9"},
		{"[2001:db8::9]:5555", "2001:db8::9"},
		{"11.0.0.1:5555", "11.0.0.1"},
	} {
		if got := recordedIP(t, opts, tc.remote, "10.0.0.1"); got != tc.want {
			t.Errorf("peer %s with X-Forwarded-For 10.0.0.1: recorded IP %q, want the peer %s", tc.remote, got, tc.want)
		}
	}
}

// Through several trusted proxies (a CDN, then a load balancer), each
// appending, the client IP is the first address from the right that none
// of them owns; over several header lines, the last line is the nearest.
// If every address is a trusted proxy's, the leftmost is the client (as
// proxy-addr); without X-Forwarded-For, the peer.
func TestTrustedProxiesWalkForwardedForFromTheRight(t *testing.T) {
	opts := Options{TrustedProxies: prefixes("10.0.0.0/8", "192.0.2.0/24", "2001:db8:1::/48")}
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"two hops", "10.0.0.5:1", []string{"6.6.6.6, 203.0.113.7, 192.0.2.10"}, "203.0.113.7"},
		{"three hops, no spaces", "10.0.0.5:1", []string{"6.6.6.6,203.0.113.7,192.0.2.10,10.1.1.1"}, "203.0.113.7"},
		{"header lines", "10.0.0.5:1", []string{"6.6.6.6, 203.0.113.7", "192.0.2.10"}, "203.0.113.7"},
		{"spoofed line after", "10.0.0.5:1", []string{"203.0.113.7", "6.6.6.6"}, "6.6.6.6"},
		{"all trusted", "10.0.0.5:1", []string{"10.9.9.9, 192.0.2.10"}, "10.9.9.9"},
		{"no header", "10.0.0.5:1", nil, "10.0.0.5"},
		{"ipv6 hops", "[2001:db8:1::2]:1", []string{"6.6.6.6, 2001:db8:2::7, 2001:db8:1::1"}, "2001:db8:2::7"},
		{"peer without port", "10.0.0.5", []string{"203.0.113.7"}, "203.0.113.7"},
	} {
		if got := recordedIP(t, opts, tc.remote, tc.xff...); got != tc.want {
			t.Errorf("%s: peer %s, X-Forwarded-For %q: recorded IP %q, want %s", tc.name, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// An IPv4-mapped IPv6 address (as a proxy on a dual-stack socket may write
// it) is its IPv4 address: it matches an IPv4 prefix, and an IPv4 address
// matches an IPv4-mapped prefix. An IPv6 prefix that spans the mapped range
// without being a mapped prefix of 96 bits or more (::/80, ::ffff:0:0/95)
// holds no IPv4 address, mapped or not, as in proxy-addr 2.0.8 (express 5):
// the IPv4 peer is the client. A zone does not keep a link-local peer out
// of its prefix.
func TestTrustedProxiesMatchIPv4MappedAddressesAndZones(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{"mapped entry, IPv4 prefix", prefixes("10.0.0.0/8"), "10.0.0.5:1", "203.0.113.7, ::ffff:10.0.0.9", "203.0.113.7"},
		{"mapped peer, IPv4 prefix", prefixes("10.0.0.0/8"), "[::ffff:10.0.0.5]:1", "203.0.113.7", "203.0.113.7"},
		{"IPv4 peer, mapped prefix", prefixes("::ffff:10.0.0.0/104"), "10.0.0.5:1", "203.0.113.7, 10.0.0.9", "203.0.113.7"},
		{"zoned peer", prefixes("fe80::/10"), "[fe80::1%eth0]:1", "203.0.113.7", "203.0.113.7"},
		{"mapped client", prefixes("10.0.0.0/8"), "10.0.0.5:1", "::ffff:203.0.113.7", "::ffff:203.0.113.7"},
		{"IPv4 peer, IPv6 prefix over the mapped range", prefixes("::ffff:0:0/95"), "10.0.0.5:1", "203.0.113.7", "10.0.0.5"},
		{"IPv4 peer, all of IPv6", prefixes("::/0"), "10.0.0.5:1", "203.0.113.7", "10.0.0.5"},
		{"IPv4 peer, the whole mapped prefix", prefixes("::ffff:0:0/96"), "10.0.0.5:1", "203.0.113.7", "203.0.113.7"},
		{"mapped peer, IPv6 prefix over the mapped range", prefixes("::/80"), "[::ffff:10.0.0.5]:1", "203.0.113.7", "::ffff:10.0.0.5"},
		{"mapped entry, IPv6 prefix over the mapped range", prefixes("::/80", "10.0.0.5/32"), "10.0.0.5:1", "203.0.113.7, ::ffff:10.0.0.9", "::ffff:10.0.0.9"},
	} {
		if got := recordedIP(t, Options{TrustedProxies: tc.trusted}, tc.remote, tc.xff); got != tc.want {
			t.Errorf("%s: peer %s, X-Forwarded-For %q: recorded IP %q, want %s", tc.name, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// A prefix written as an IPv4-mapped address with fewer than 96 bits (an
// IPv4 length after a mapped address, ::ffff:10.0.0.0/8) holds no address
// at all, as in proxy-addr 2.0.8, which skips a mapped subnet under 96 bits
// for IPv4 addresses and any mapped subnet for IPv6 ones: an IPv6 peer in
// the prefix's masked range (::1 in ::/8) is the client, and its
// X-Forwarded-Proto does not make the cookie Secure.
func TestTrustedProxiesMappedPrefixUnder96BitsTrustsNoPeer(t *testing.T) {
	for _, tc := range []struct {
		trusted string
		remote  string
		want    string
	}{
		{"::ffff:10.0.0.0/8", "[::1]:1", "::1"},
		{"::ffff:10.0.0.0/8", "10.0.0.5:1", "10.0.0.5"},
		{"::ffff:0:0/80", "[::1:2]:1", "::1:2"},
		{"::ffff:0:0/95", "[::fffe:1:2]:1", "::fffe:1:2"},
		{"::ffff:0:0/95", "[::ffff:10.0.0.5]:1", "::ffff:10.0.0.5"},
	} {
		opts := Options{TrustedProxies: prefixes(tc.trusted)}
		if got := recordedIP(t, opts, tc.remote, "203.0.113.7"); got != tc.want {
			t.Errorf("TrustedProxies %s, peer %s, X-Forwarded-For 203.0.113.7: recorded IP %q, want %s", tc.trusted, tc.remote, got, tc.want)
		}
		if secureAutoCookie(t, opts, tc.remote, false, []string{"https"}) {
			t.Errorf("TrustedProxies %s, peer %s: X-Forwarded-Proto https made the cookie Secure", tc.trusted, tc.remote)
		}
	}
}

// A zone of letters and digits (eth0, wg0) does not keep an address out of
// its prefix, but an address whose zone holds anything else is no address,
// as in proxy-addr (ipaddr.js takes %[0-9a-z]+ only): neither a peer on
// an interface such as br-lan nor an X-Forwarded-For entry whose tab after
// a zone netip would take into it ("::ffff:10.0.0.9%eth0\t", which
// express's forwarded leaves untrimmed) is trusted.
func TestTrustedProxiesTakeOnlyZonesOfLettersAndDigits(t *testing.T) {
	for _, tc := range []struct {
		remote string
		xff    string
		want   string
		secure bool
	}{
		{"[fe80::1%eth0]:1", "203.0.113.7", "203.0.113.7", true},
		{"[fe80::1%br-lan]:1", "203.0.113.7", "fe80::1%br-lan", false},
		{"[fe80::1%eth0.100]:1", "203.0.113.7", "fe80::1%eth0.100", false},
		{"10.0.0.5:1", "203.0.113.7, fe80::9%wg0", "203.0.113.7", true},
		{"10.0.0.5:1", "203.0.113.7, fe80::9%eth-1", "fe80::9%eth-1", true},
		{"10.0.0.5:1", "203.0.113.7, ::ffff:10.0.0.9%eth0\t", "::ffff:10.0.0.9%eth0\t", true},
		{"10.0.0.5:1", "203.0.113.7, ::ffff:10.0.0.9%eth0", "203.0.113.7", true},
	} {
		opts := Options{TrustedProxies: prefixes("fe80::/10", "10.0.0.0/8")}
		if got := recordedIP(t, opts, tc.remote, tc.xff); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: recorded IP %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
		if got := secureAutoCookie(t, opts, tc.remote, false, []string{"https"}); got != tc.secure {
			t.Errorf("peer %s with X-Forwarded-Proto https: Secure %v, want %v", tc.remote, got, tc.secure)
		}
	}
}

// An X-Forwarded-For entry that is not an IP address (a port after it,
// "unknown", a prefix) is never a trusted proxy: the walk stops there and
// it is the client IP as written (as express's req.ip), never an address
// written to the left of it. Empty entries are skipped, as proxy-addr does.
func TestTrustedProxiesStopAtAMalformedForwardedForEntry(t *testing.T) {
	opts := Options{TrustedProxies: prefixes("10.0.0.0/8")}
	for _, tc := range []struct{ xff, want string }{
		{"6.6.6.6, unknown, 10.0.0.9", "unknown"},
		{"6.6.6.6, 203.0.113.7:4711", "203.0.113.7:4711"},
		{"6.6.6.6, , 10.0.0.9", "6.6.6.6"},
		{"6.6.6.6,,", "6.6.6.6"},
		{"6.6.6.6, 10.0.0.1/8", "10.0.0.1/8"},
		{"6.6.6.6,10.0.0.300", "10.0.0.300"},
		{"6.6.6.6,\t10.0.0.9", "\t10.0.0.9"}, // express trims spaces only
	} {
		if got := recordedIP(t, opts, "10.0.0.5:1", tc.xff); got != tc.want {
			t.Errorf("X-Forwarded-For %q: recorded IP %q, want %q", tc.xff, got, tc.want)
		}
	}
}

// With SecureAuto (and SameSiteAuto, Partitioned), X-Forwarded-Proto makes
// the cookie Secure only on a request from a trusted proxy, and, as
// express's req.protocol, its first value counts. TLS is secure whatever
// the headers say.
func TestTrustedProxiesDecideSecureAutoFromTrustedPeersOnly(t *testing.T) {
	for _, tc := range []struct {
		name       string
		remote     string
		tls        bool
		xfp        []string
		wantSecure bool
	}{
		{"trusted peer https", "10.0.0.5:1", false, []string{"https"}, true},
		{"trusted peer HTTPS", "10.0.0.5:1", false, []string{"HTTPS"}, true},
		{"trusted peer http", "10.0.0.5:1", false, []string{"http"}, false},
		{"trusted peer first value", "10.0.0.5:1", false, []string{"https, http"}, true},
		{"trusted peer first value http", "10.0.0.5:1", false, []string{"http, https"}, false},
		{"trusted peer first line", "10.0.0.5:1", false, []string{"https", "http"}, true},
		{"trusted ipv6 peer", "[2001:db8:1::2]:1", false, []string{"https"}, true},
		{"trusted peer no header", "10.0.0.5:1", false, nil, false},
		{"untrusted peer https", "198.51.100.9:1", false, []string{"https"}, false},
		{"malformed peer", "not-an-address", false, []string{"https"}, false},
		{"untrusted peer over tls", "198.51.100.9:1", true, []string{"http"}, true},
		{"trusted peer over tls, http header", "10.0.0.5:1", true, []string{"http"}, true},
	} {
		m, _ := newTestManager(t, Options{TrustedProxies: prefixes("10.0.0.0/8", "2001:db8:1::/48"), Cookie: CookieOptions{Secure: SecureAuto, SameSite: SameSiteAuto, Partitioned: true}})
		target := "/"
		if tc.tls {
			target = "https://example.com/"
		}
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.RemoteAddr = tc.remote
		req.Header["X-Forwarded-Proto"] = tc.xfp
		req.Header.Set("X-Forwarded-For", "10.0.0.7")
		rec := httptest.NewRecorder()
		m.Handler(incrViews).ServeHTTP(rec, req)
		c := setCookie(rec)
		if c == "" {
			t.Errorf("%s: no cookie", tc.name)
			continue
		}
		site := "SameSite=Lax"
		if tc.wantSecure {
			site = "SameSite=None"
		}
		if strings.Contains(c, "; Secure") != tc.wantSecure || strings.Contains(c, "; Partitioned") != tc.wantSecure || !strings.Contains(c, site) {
			t.Errorf("%s: Set-Cookie %q, want secure and partitioned=%v and %s", tc.name, c, tc.wantSecure, site)
		}
	}
}

// New refuses TrustedProxies together with TrustProxy (which trusts every
// peer, so one of them is a mistake), and an invalid prefix.
func TestNewRefusesInvalidTrustedProxies(t *testing.T) {
	for name, opts := range map[string]Options{
		"with TrustProxy": {TrustProxy: true, TrustedProxies: prefixes("10.0.0.0/8")},
		"zero prefix":     {TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}},
		"bad bits":        {TrustedProxies: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 33)}},
	} {
		opts.Secrets = []string{"keyboard cat"}
		if _, err := New(opts); !errors.Is(err, errOptions) || !strings.Contains(err.Error(), "TrustedProxies") {
			t.Errorf("%s: New returned %v, want an invalid options error naming TrustedProxies", name, err)
		}
	}
	for name, opts := range map[string]Options{
		"empty":          {TrustProxy: true, TrustedProxies: []netip.Prefix{}},
		"host bits set":  {TrustedProxies: prefixes("10.0.0.1/8")},
		"single address": {TrustedProxies: prefixes("10.0.0.1/32", "::1/128")},
	} {
		opts.Secrets = []string{"keyboard cat"}
		if _, err := New(opts); err != nil {
			t.Errorf("%s: New returned %v, want it accepted", name, err)
		}
	}
}

// The manager keeps its own copy of TrustedProxies: a caller that reuses
// the slice afterwards does not change whom it trusts.
func TestTrustedProxiesAreCopiedByNew(t *testing.T) {
	trusted := prefixes("10.0.0.0/8")
	opts := Options{TrustedProxies: trusted, RecordClient: true}
	m, _ := newTestManager(t, opts)
	trusted[0] = netip.MustParsePrefix("0.0.0.0/0")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "198.51.100.9:1"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	if got := m.clientIP(req); got != "198.51.100.9" {
		t.Fatalf("client IP %q after the caller changed its slice, want the untrusted peer 198.51.100.9", got)
	}
}

// Finding the client IP and the scheme behind proxies does not allocate,
// whichever way they are trusted.
func TestClientIPBehindTrustedProxiesDoesNotAllocate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		xff  []string
	}{
		{"TrustedProxies", Options{TrustedProxies: prefixes("10.0.0.0/8", "2001:db8:1::/48")},
			[]string{"6.6.6.6, 203.0.113.7, 2001:db8:1::8%eth0, 2001:db8:1::9, ::ffff:10.0.0.9"}},
		{"TrustedProxyHops", Options{TrustedProxyHops: 2}, []string{"6.6.6.6, 203.0.113.7", " , 2001:db8:1::9"}},
		{"TrustProxy", Options{TrustProxy: true}, []string{" , ", "203.0.113.7, 10.0.0.1"}},
	} {
		m, _ := newTestManager(t, tc.opts)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.0.0.5:40000"
		req.Header["X-Forwarded-For"] = tc.xff
		req.Header.Set("X-Forwarded-Proto", "https")
		rs := &requestState{m: m, r: *req}
		var ip string
		var secure bool
		if n := testing.AllocsPerRun(100, func() { ip, secure = m.clientIP(req), rs.secureRequest() }); n != 0 {
			t.Errorf("%s: %v allocations, want none", tc.name, n)
		}
		if ip != "203.0.113.7" || !secure {
			t.Errorf("%s: client IP %q, secure %v; want 203.0.113.7, true", tc.name, ip, secure)
		}
	}
}

// FuzzTrustedProxiesClientIPIsTheNearestUntrustedAddress sends any peer
// address and X-Forwarded-For and checks the client IP against the list
// of hops, nearest first (the peer, then the entries from the right, empty
// ones left out): it is one of them, every hop nearer than it is a trusted
// proxy, and it is not one itself unless it is the farthest hop. An
// untrusted peer is the client whatever the header says, and its
// X-Forwarded-Proto never makes the request secure.
func FuzzTrustedProxiesClientIPIsTheNearestUntrustedAddress(f *testing.F) {
	f.Add("10.0.0.5:1", "1.2.3.4, 203.0.113.7")
	f.Add("10.0.0.5:1", "6.6.6.6,,10.1.1.1 , ::ffff:10.0.0.9")
	f.Add("[2001:db8::1]:1", "unknown, 2001:db8::2")
	f.Add("198.51.100.9:1", "10.0.0.1")
	f.Add("[fe80::1%eth0]:1", " , ")
	f.Add("10.0.0.5", "203.0.113.7:80")
	f.Fuzz(func(t *testing.T, peer, forwarded string) {
		m, _ := newTestManager(t, Options{TrustedProxies: prefixes("10.0.0.0/8", "2001:db8::/32", "fe80::/10")})
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Forwarded-For", forwarded)
		req.Header.Set("X-Forwarded-Proto", "https")
		got := m.clientIP(req)
		hops := []string{peerHost(req)}
		entries := strings.Split(forwarded, ",")
		for i := len(entries) - 1; i >= 0; i-- {
			if e := strings.Trim(entries[i], " "); e != "" {
				hops = append(hops, e)
			}
		}
		i := 0
		for i < len(hops)-1 && m.trustedAddr(hops[i]) {
			i++
		}
		if got != hops[i] {
			t.Fatalf("peer %q, X-Forwarded-For %q: client IP %q, want %q, the nearest of %q that is not a trusted proxy (or the farthest)", peer, forwarded, got, hops[i], hops)
		}
		if secure := (&requestState{m: m, r: *req}).secureRequest(); secure != m.trustedAddr(hops[0]) {
			t.Fatalf("peer %q (trusted %v) with X-Forwarded-Proto https: secure %v", peer, m.trustedAddr(hops[0]), secure)
		}
	})
}
