package demo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// -trusted-proxies takes comma-separated CIDR prefixes and bare addresses
// (each a prefix of its own), -trusted-proxy-hops a number of proxies;
// each has its environment variable, which the flag wins over, as every
// other setting.
func TestParseConfigReadsTheTrustedProxies(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		name        string
		args        []string
		env         map[string]string
		wantProxies []netip.Prefix
		wantHops    int
	}{
		{"default", nil, nil, nil, 0},
		{"prefixes and addresses", []string{"-trusted-proxies", "10.0.0.0/8, 127.0.0.1,::1, 2001:db8::/32,"}, nil,
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("2001:db8::/32")}, 0},
		{"hops", []string{"-trusted-proxy-hops", "2"}, nil, nil, 2},
		{"environment", nil, map[string]string{"SESSION_TRUSTED_PROXIES": "192.168.0.0/16"}, []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, 0},
		{"hops from the environment", nil, map[string]string{"SESSION_TRUSTED_PROXY_HOPS": " 1 "}, nil, 1},
		{"flag over the environment", []string{"-trusted-proxies", "10.0.0.1"}, map[string]string{"SESSION_TRUSTED_PROXIES": "bad"}, []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}, 0},
		{"hops flag over the environment", []string{"-trusted-proxy-hops", "0"}, map[string]string{"SESSION_TRUSTED_PROXY_HOPS": "-1"}, nil, 0},
		{"empty flag trusts none", []string{"-trusted-proxies", ""}, nil, nil, 0},
		{"hops flag beside proxies from the environment", []string{"-trusted-proxy-hops", "1", "-trusted-proxies", ""}, map[string]string{"SESSION_TRUSTED_PROXIES": "10.0.0.0/8"}, nil, 1},
	} {
		getenv := func(k string) string { return tc.env[k] }
		cfg, err := ParseConfig(tc.args, getenv, io.Discard)
		want := Config{Addr: DefaultAddr, Name: DefaultName, MaxAge: DefaultMaxAge, TrustedProxies: tc.wantProxies, TrustedProxyHops: tc.wantHops}
		if err != nil || !equalConfig(cfg, want) {
			t.Errorf("%s: %q with %v: %+v, %v; want %+v", tc.name, tc.args, tc.env, cfg, err, want)
		}
	}

	for _, args := range [][]string{
		{"-trusted-proxies", "proxy.example"},
		{"-trusted-proxies", "10.0.0.0/33"},
		{"-trusted-proxies", "fe80::1%eth0"},
		{"-trusted-proxies", "10.0.0.0/8,10.0.0.300"},
		{"-trusted-proxy-hops", "one"},
	} {
		var out strings.Builder
		_, err := ParseConfig(args, none, &out)
		var usage *UsageError
		if !errors.As(err, &usage) || !strings.Contains(out.String(), "-"+strings.TrimPrefix(args[0], "-")) {
			t.Errorf("%q: error %v, output %q; want a usage error naming the flag", args, err, out.String())
		}
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"SESSION_TRUSTED_PROXIES": "10.0.0.0/8, nope"}, "SESSION_TRUSTED_PROXIES"},
		{nil, map[string]string{"SESSION_TRUSTED_PROXY_HOPS": "1.5"}, "SESSION_TRUSTED_PROXY_HOPS"},
		{nil, map[string]string{"SESSION_TRUSTED_PROXY_HOPS": "-1"}, "SESSION_TRUSTED_PROXY_HOPS must not be negative"},
		{[]string{"-trusted-proxy-hops", "-1"}, nil, "-trusted-proxy-hops must not be negative"},
		{[]string{"-trusted-proxies", "10.0.0.1", "-trusted-proxy-hops", "1"}, nil, "-trusted-proxies and -trusted-proxy-hops are both set"},
		{[]string{"-trusted-proxy-hops", "1"}, map[string]string{"SESSION_TRUSTED_PROXIES": "10.0.0.1"}, "SESSION_TRUSTED_PROXIES and -trusted-proxy-hops are both set"},
	} {
		_, err := ParseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q with %v: error %v, want one saying %q", tc.args, tc.env, err, tc.want)
		}
	}
}

// Behind a proxy that ends TLS and says so in X-Forwarded-Proto, the
// demo's SecureAuto cookie is Secure when the proxy is trusted, by its
// address (-trusted-proxies) or by the count (-trusted-proxy-hops), and
// not when it is not: the test's requests come from 127.0.0.1.
func TestTrustedProxyFlagsMakeTheCookieSecureBehindAnHTTPSProxy(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		wantSecure bool
	}{
		{nil, false},
		{[]string{"-trusted-proxy-hops", "1"}, true},
		{[]string{"-trusted-proxies", "127.0.0.1"}, true},
		{[]string{"-trusted-proxies", "127.0.0.0/8,::1"}, true},
		{[]string{"-trusted-proxies", "10.0.0.0/8"}, false},
	} {
		args := append([]string{"-addr", "127.0.0.1:0", "-store", "mem://", "-secret", "proxy test secret"}, tc.args...)
		cfg, err := ParseConfig(args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		cfg.Dir = t.TempDir()
		cookies := cookiesOverHTTPSProxy(t, cfg)
		if len(cookies) != 1 {
			t.Fatalf("%q: %d cookies, want 1", tc.args, len(cookies))
		}
		if cookies[0].Secure != tc.wantSecure {
			t.Errorf("%q: X-Forwarded-Proto https from 127.0.0.1 gave cookie %s, want Secure %v", tc.args, cookies[0], tc.wantSecure)
		}
	}
}

// Behind a trusted proxy the demo's cookie is Secure on https requests,
// so a __Host- or __Secure- name, which Start refuses on plain HTTP (see
// TestACookieNameThatNeedsHTTPSIsRefused), works: the cookie comes back
// Secure under that name. It was refused whatever the proxy flags said.
func TestACookieNameThatNeedsHTTPSWorksBehindATrustedProxy(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"__Host-sid", Config{TrustedProxyHops: 1}},
		{"__Secure-sid", Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
	} {
		cfg := c.cfg
		cfg.Addr, cfg.StoreURL, cfg.Secrets, cfg.Dir, cfg.Name = "127.0.0.1:0", "mem://", []string{"proxy test secret"}, t.TempDir(), c.name
		if cookies := cookiesOverHTTPSProxy(t, cfg); len(cookies) != 1 || cookies[0].Name != c.name || !cookies[0].Secure || cookies[0].Path != "/" || cookies[0].Domain != "" {
			t.Errorf("%s: cookies %v, want one Secure cookie of that name, Path=/, no Domain", c.name, cookies)
		}
	}
}

// cookiesOverHTTPSProxy starts the demo with cfg, sends it one GET / that
// says, as a proxy ending TLS would, X-Forwarded-Proto: https, shuts it
// down, and returns the cookies of the answer.
func cookiesOverHTTPSProxy(t *testing.T, cfg Config) []*http.Cookie {
	t.Helper()
	s, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	return resp.Cookies()
}
