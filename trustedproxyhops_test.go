package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// Behind N appending proxies whose addresses are not known (Heroku, Render,
// Fly.io, a Kubernetes ingress), the client IP is the address N hops away:
// the peer is hop 0, the last X-Forwarded-For entry hop 1, and so on
// leftwards (over several header lines, the last line is the nearest), as
// express's req.ip with app.set('trust proxy', N), whose trust function
// is i < N. The peer's address does not matter, and what the client wrote
// in front of the proxies' entries is skipped. Empty entries are no hop.
func TestTrustedProxyHopsRecordTheClientIPThatManyHopsAway(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hops   int
		remote string
		xff    []string
		want   string
	}{
		{"one proxy", 1, "10.0.0.5:1", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"one proxy, public peer", 1, "198.51.100.9:1", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"two proxies", 2, "10.0.0.5:1", []string{"1.2.3.4, 203.0.113.7, 10.1.1.1"}, "203.0.113.7"},
		{"two proxies, no spaces", 2, "10.0.0.5:1", []string{"1.2.3.4,203.0.113.7,10.1.1.1"}, "203.0.113.7"},
		{"three proxies", 3, "10.0.0.5:1", []string{"1.2.3.4, 203.0.113.7, 192.0.2.10, 10.1.1.1"}, "203.0.113.7"},
		{"header lines", 2, "10.0.0.5:1", []string{"1.2.3.4, 203.0.113.7", "10.1.1.1"}, "203.0.113.7"},
		{"header lines, one proxy", 1, "10.0.0.5:1", []string{"1.2.3.4", "203.0.113.7"}, "203.0.113.7"},
		{"empty entries are no hop", 2, "10.0.0.5:1", []string{"1.2.3.4, 203.0.113.7, , 10.1.1.1,"}, "203.0.113.7"},
		{"empty line is no hop", 2, "10.0.0.5:1", []string{"203.0.113.7, 10.1.1.1", ""}, "203.0.113.7"},
		{"peer without port", 1, "10.0.0.5", []string{"203.0.113.7"}, "203.0.113.7"},
	} {
		if got := recordedIP(t, Options{TrustedProxyHops: tc.hops}, tc.remote, tc.xff...); got != tc.want {
			t.Errorf("%s: TrustedProxyHops %d, peer %s, X-Forwarded-For %q: recorded IP %q, want %s", tc.name, tc.hops, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// With more hops than the request came through, every address is trusted
// and the client IP is the farthest: the leftmost X-Forwarded-For entry
// (which the client may have written), or the peer when there is none, as
// proxy-addr, which never looks past the last address.
func TestTrustedProxyHopsLargerThanTheChainRecordTheFarthestAddress(t *testing.T) {
	for _, tc := range []struct {
		hops int
		xff  []string
		want string
	}{
		{2, []string{"203.0.113.7"}, "203.0.113.7"},
		{3, []string{"1.2.3.4, 203.0.113.7"}, "1.2.3.4"},
		{5, []string{"1.2.3.4", "203.0.113.7"}, "1.2.3.4"},
		{1 << 40, []string{"1.2.3.4, 203.0.113.7"}, "1.2.3.4"},
		{1, nil, "10.0.0.5"},
		{4, []string{" , ,"}, "10.0.0.5"},
		{2, []string{""}, "10.0.0.5"},
	} {
		if got := recordedIP(t, Options{TrustedProxyHops: tc.hops}, "10.0.0.5:1", tc.xff...); got != tc.want {
			t.Errorf("TrustedProxyHops %d, X-Forwarded-For %q: recorded IP %q, want %s", tc.hops, tc.xff, got, tc.want)
		}
	}
}

// A hop count trusts a hop whatever it holds, as express's numeric trust
// proxy: an entry that is not an address (a port after it, "unknown") is
// the client IP as written when it is the one N hops away, and is passed
// over like any other when it is nearer, where TrustedProxies stops at it.
// A peer that is not an address is trusted too.
func TestTrustedProxyHopsTakeMalformedEntriesAsWritten(t *testing.T) {
	for _, tc := range []struct {
		hops   int
		remote string
		xff    string
		want   string
	}{
		{1, "10.0.0.5:1", "6.6.6.6, unknown", "unknown"},
		{2, "10.0.0.5:1", "6.6.6.6, unknown, 10.0.0.9", "unknown"},
		{3, "10.0.0.5:1", "6.6.6.6, unknown, 10.0.0.9", "6.6.6.6"},
		{1, "10.0.0.5:1", "6.6.6.6, 203.0.113.7:4711", "203.0.113.7:4711"},
		{1, "10.0.0.5:1", "6.6.6.6, 10.0.0.300", "10.0.0.300"},
		{1, "10.0.0.5:1", "6.6.6.6, [2001:db8::7]", "[2001:db8::7]"},
		{1, "not-an-address", "203.0.113.7", "203.0.113.7"},
	} {
		if got := recordedIP(t, Options{TrustedProxyHops: tc.hops}, tc.remote, tc.xff); got != tc.want {
			t.Errorf("TrustedProxyHops %d, peer %s, X-Forwarded-For %q: recorded IP %q, want %q", tc.hops, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// IPv6 hops count as IPv4 ones, and an address is recorded as written: an
// IPv4-mapped entry or peer keeps its ::ffff: form and a peer its zone, as
// express's req.ip returns the string it found.
func TestTrustedProxyHopsCountIPv6AndMappedHops(t *testing.T) {
	for _, tc := range []struct {
		hops   int
		remote string
		xff    []string
		want   string
	}{
		{1, "[2001:db8:1::2]:1", []string{"6.6.6.6, 2001:db8:2::7"}, "2001:db8:2::7"},
		{2, "[2001:db8:1::2]:1", []string{"6.6.6.6, 2001:db8:2::7, 2001:db8:1::1"}, "2001:db8:2::7"},
		{1, "[::ffff:10.0.0.5]:1", []string{"6.6.6.6, ::ffff:203.0.113.7"}, "::ffff:203.0.113.7"},
		{2, "10.0.0.5:1", []string{"203.0.113.7, ::ffff:10.0.0.9"}, "203.0.113.7"},
		{1, "[::ffff:10.0.0.5]:1", nil, "::ffff:10.0.0.5"},
		{1, "[fe80::1%eth0]:1", nil, "fe80::1%eth0"},
		{1, "[fe80::1%eth0]:1", []string{"fe80::9%eth1"}, "fe80::9%eth1"},
	} {
		if got := recordedIP(t, Options{TrustedProxyHops: tc.hops}, tc.remote, tc.xff...); got != tc.want {
			t.Errorf("TrustedProxyHops %d, peer %s, X-Forwarded-For %q: recorded IP %q, want %s", tc.hops, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// The zero TrustedProxyHops changes nothing: without TrustProxy or
// TrustedProxies the peer is the client and X-Forwarded-Proto is ignored,
// and with either of them it behaves as before.
func TestZeroTrustedProxyHopsChangesNothing(t *testing.T) {
	const xff = "1.2.3.4, 203.0.113.7"
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no proxy", Options{}, "10.0.0.5"},
		{"TrustProxy", Options{TrustProxy: true}, "1.2.3.4"},
		{"TrustedProxies", Options{TrustedProxies: prefixes("10.0.0.0/8")}, "203.0.113.7"},
	} {
		if got := recordedIP(t, tc.opts, "10.0.0.5:1", xff); got != tc.want {
			t.Errorf("%s: X-Forwarded-For %q: recorded IP %q, want %s", tc.name, xff, got, tc.want)
		}
	}
	if secure := secureAutoCookie(t, Options{}, "10.0.0.5:1", false, []string{"https"}); secure {
		t.Error("without any proxy option, X-Forwarded-Proto https made the cookie Secure")
	}
}

// secureAutoCookie sends a request from remote (over TLS if tls) with the
// X-Forwarded-Proto lines xfp to a manager with SecureAuto, SameSiteAuto
// and Partitioned, and reports whether the cookie came back Secure (and
// checks that the other two follow).
func secureAutoCookie(t *testing.T, opts Options, remote string, tls bool, xfp []string) bool {
	t.Helper()
	opts.Cookie = CookieOptions{Secure: SecureAuto, SameSite: SameSiteAuto, Partitioned: true}
	m, _ := newTestManager(t, opts)
	target := "/"
	if tls {
		target = "https://example.com/"
	}
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = remote
	req.Header["X-Forwarded-Proto"] = xfp
	rec := httptest.NewRecorder()
	m.Handler(incrViews).ServeHTTP(rec, req)
	c := setCookie(rec)
	if c == "" {
		t.Fatalf("peer %s, X-Forwarded-Proto %q: no cookie", remote, xfp)
	}
	secure := strings.Contains(c, "; Secure")
	site := "SameSite=Lax"
	if secure {
		site = "SameSite=None"
	}
	if strings.Contains(c, "; Partitioned") != secure || !strings.Contains(c, site) {
		t.Fatalf("peer %s, X-Forwarded-Proto %q: Set-Cookie %q: Partitioned and SameSite do not follow Secure", remote, xfp, c)
	}
	return secure
}

// With a hop count from 1 up the peer is trusted whatever its address, so
// X-Forwarded-Proto decides SecureAuto (and SameSiteAuto, Partitioned) on
// every request, as express's req.protocol, which asks the trust function
// only about the peer (hop 0), then takes the header's first value. TLS is
// secure whatever the header says.
func TestTrustedProxyHopsDecideSecureAutoFromForwardedProto(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hops       int
		remote     string
		tls        bool
		xfp        []string
		wantSecure bool
	}{
		{"https", 1, "10.0.0.5:1", false, []string{"https"}, true},
		{"https from any peer", 1, "198.51.100.9:1", false, []string{"https"}, true},
		{"https from an ipv6 peer", 1, "[2001:db8::9]:1", false, []string{"https"}, true},
		{"https from a malformed peer", 1, "not-an-address", false, []string{"https"}, true},
		{"https, two hops", 2, "10.0.0.5:1", false, []string{"https"}, true},
		{"HTTPS", 1, "10.0.0.5:1", false, []string{"HTTPS"}, true},
		{"http", 1, "10.0.0.5:1", false, []string{"http"}, false},
		{"first value", 1, "10.0.0.5:1", false, []string{" https , http"}, true},
		{"first value http", 1, "10.0.0.5:1", false, []string{"http, https"}, false},
		{"first line", 1, "10.0.0.5:1", false, []string{"https", "http"}, true},
		{"no header", 1, "10.0.0.5:1", false, nil, false},
		{"tls, http header", 1, "10.0.0.5:1", true, []string{"http"}, true},
		{"zero hops, https", 0, "10.0.0.5:1", false, []string{"https"}, false},
		{"zero hops, tls", 0, "10.0.0.5:1", true, nil, true},
	} {
		if got := secureAutoCookie(t, Options{TrustedProxyHops: tc.hops}, tc.remote, tc.tls, tc.xfp); got != tc.wantSecure {
			t.Errorf("%s: TrustedProxyHops %d, peer %s, tls %v, X-Forwarded-Proto %q: Secure %v, want %v", tc.name, tc.hops, tc.remote, tc.tls, tc.xfp, got, tc.wantSecure)
		}
	}
}

// New refuses a negative hop count, and a count together with TrustProxy
// (which trusts every hop) or TrustedProxies (which trusts by address:
// with both, it is not clear whether a hop must be near enough, in the
// list, or either); each error names both options.
func TestNewRefusesInvalidTrustedProxyHops(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  Options
		names []string
	}{
		{"negative", Options{TrustedProxyHops: -1}, []string{"TrustedProxyHops", "negative"}},
		{"with TrustProxy", Options{TrustedProxyHops: 1, TrustProxy: true}, []string{"TrustedProxyHops", "TrustProxy"}},
		{"with TrustedProxies", Options{TrustedProxyHops: 1, TrustedProxies: prefixes("10.0.0.0/8")}, []string{"TrustedProxyHops", "TrustedProxies"}},
		{"negative with TrustProxy", Options{TrustedProxyHops: -2, TrustProxy: true}, []string{"TrustedProxyHops", "negative"}},
	} {
		tc.opts.Secrets = []string{"keyboard cat"}
		_, err := New(tc.opts)
		if !errors.Is(err, errOptions) {
			t.Errorf("%s: New returned %v, want an invalid options error", tc.name, err)
			continue
		}
		for _, name := range tc.names {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: error %q does not say %s", tc.name, err, name)
			}
		}
	}
	for name, opts := range map[string]Options{
		"one":                         {TrustedProxyHops: 1},
		"many":                        {TrustedProxyHops: 1 << 40},
		"with empty TrustedProxies":   {TrustedProxyHops: 1, TrustedProxies: []netip.Prefix{}},
		"zero with TrustProxy":        {TrustProxy: true},
		"zero with TrustedProxies":    {TrustedProxies: prefixes("10.0.0.0/8")},
		"with RecordClient and Auto":  {TrustedProxyHops: 2, RecordClient: true, Cookie: CookieOptions{Secure: SecureAuto, SameSite: SameSiteAuto}},
		"zero with empty proxies set": {TrustedProxies: []netip.Prefix{}},
	} {
		opts.Secrets = []string{"keyboard cat"}
		if _, err := New(opts); err != nil {
			t.Errorf("%s: New returned %v, want it accepted", name, err)
		}
	}
}

// FuzzTrustedProxyHopsClientIPIsTheAddressThatManyHopsAway sends any peer
// address, X-Forwarded-For (a newline in it starts another header line)
// and hop count, and checks the client IP against the list of hops,
// nearest first (the peer, then the entries from the right, the last line
// first, empty ones left out): it is the hop that many away, or the
// farthest when the list is shorter (express's proxy-addr with the trust
// function i < n); the zero count leaves the peer as the client. The
// header's https makes the request secure exactly when the count is not
// zero.
func FuzzTrustedProxyHopsClientIPIsTheAddressThatManyHopsAway(f *testing.F) {
	f.Add("10.0.0.5:1", "1.2.3.4, 203.0.113.7", uint8(1))
	f.Add("10.0.0.5:1", "1.2.3.4, 203.0.113.7", uint8(0))
	f.Add("10.0.0.5:1", "6.6.6.6,,10.1.1.1 , ::ffff:10.0.0.9", uint8(2))
	f.Add("[2001:db8::1]:1", "unknown, 2001:db8::2\n10.0.0.1", uint8(2))
	f.Add("198.51.100.9:1", "10.0.0.1", uint8(9))
	f.Add("[fe80::1%eth0]:1", " , \n", uint8(1))
	f.Add("10.0.0.5", "203.0.113.7:80", uint8(255))
	f.Fuzz(func(t *testing.T, peer, forwarded string, n uint8) {
		m, _ := newTestManager(t, Options{TrustedProxyHops: int(n)})
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = peer
		req.Header["X-Forwarded-For"] = strings.Split(forwarded, "\n")
		req.Header.Set("X-Forwarded-Proto", "https")
		got := m.clientIP(req)
		hops := []string{peerHost(req)}
		entries := strings.FieldsFunc(forwarded, func(r rune) bool { return r == ',' || r == '\n' })
		for i := len(entries) - 1; i >= 0; i-- {
			if e := strings.Trim(entries[i], " "); e != "" {
				hops = append(hops, e)
			}
		}
		want := hops[min(int(n), len(hops)-1)]
		if got != want {
			t.Fatalf("TrustedProxyHops %d, peer %q, X-Forwarded-For %q: client IP %q, want %q, hop %d (or the farthest) of %q", n, peer, forwarded, got, want, n, hops)
		}
		if secure := (&requestState{m: m, r: *req}).secureRequest(); secure != (n > 0) {
			t.Fatalf("TrustedProxyHops %d with X-Forwarded-Proto https: secure %v", n, secure)
		}
	})
}
