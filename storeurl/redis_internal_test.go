package storeurl

import (
	"crypto/tls"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/testserver"
)

func TestRedisURLParametersReachTheClient(t *testing.T) {
	parse := func(raw string) redis.UniversalClient {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parseRedisURL(u)
		if err != nil {
			t.Fatalf("parseRedisURL(%q): %v", raw, err)
		}
		c := p.client()
		t.Cleanup(func() { c.Close() })
		return c
	}
	// go-redis keeps max_retries=-1 ("none") as 0 in a Client, as -1 in a ClusterClient.
	const q = "?dial_timeout=1s&read_timeout=2s&write_timeout=3s&pool_size=7&max_retries=-1"

	o := parse("redis://u:pw@h:1234/5" + q).(*redis.Client).Options()
	if o.Addr != "h:1234" || o.DB != 5 || o.Username != "u" || o.Password != "pw" || o.TLSConfig != nil {
		t.Errorf("redis:// options: addr %q db %d user %q password %q tls %v", o.Addr, o.DB, o.Username, o.Password, o.TLSConfig)
	}
	if o.DialTimeout != time.Second || o.ReadTimeout != 2*time.Second || o.WriteTimeout != 3*time.Second || o.PoolSize != 7 || o.MaxRetries != 0 {
		t.Errorf("redis:// options: dial %v read %v write %v pool %d retries %d", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolSize, o.MaxRetries)
	}
	if o := parse("redis://").(*redis.Client).Options(); o.Addr != "localhost:6379" {
		t.Errorf("redis:// default address %q, want localhost:6379", o.Addr)
	}
	if o := parse("rediss://example.com?skip_verify=true").(*redis.Client).Options(); o.TLSConfig == nil || o.TLSConfig.ServerName != "example.com" || !o.TLSConfig.InsecureSkipVerify {
		t.Errorf("rediss:// TLS config %+v", o.TLSConfig)
	}

	co := parse("redis+cluster://a,b:7001,c:7002" + q).(*redis.ClusterClient).Options()
	if len(co.Addrs) != 3 || co.Addrs[0] != "a:7000" || co.PoolSize != 7 || co.ReadTimeout != 2*time.Second || co.MaxRetries != -1 {
		t.Errorf("redis+cluster:// options: addrs %v pool %d read %v retries %d", co.Addrs, co.PoolSize, co.ReadTimeout, co.MaxRetries)
	}

	u, _ := url.Parse("redis+sentinel://s1,s2:5000/mymaster/3?sentinel_password=x")
	p, err := parseRedisURL(u)
	if err != nil {
		t.Fatal(err)
	}
	if p.master != "mymaster" || p.db != 3 || len(p.addrs) != 2 || p.addrs[0] != "s1:26379" || p.sentinelPassword != "x" {
		t.Errorf("redis+sentinel:// parsed as %+v", p)
	}
}

func TestMemcachedURLParametersReachTheClient(t *testing.T) {
	u, _ := url.Parse("memcached://127.0.0.1,127.0.0.2:1234?timeout=2s&pool_size=9&dial_timeout=1s")
	p, err := parseMemcachedURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 2*time.Second || c.MaxIdleConns != 9 || c.DialContext == nil || len(p.storeOpts) != 0 {
		t.Fatalf("client timeout %v, idle %d, dialer set %v, %d store options", c.Timeout, c.MaxIdleConns, c.DialContext != nil, len(p.storeOpts))
	}
}

// tls_server_name is the name every node's certificate is verified for, on
// Cluster and Sentinel too, where without it each node's own host is; the
// authorities of tls_ca and the certificate of tls_cert reach the client.
func TestRedissURLTLSParametersReachEveryKindOfClient(t *testing.T) {
	pki, err := testserver.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := "tls_ca=" + url.QueryEscape(pki.CAFile) + "&tls_cert=" + url.QueryEscape(pki.ClientCertFile) + "&tls_key=" + url.QueryEscape(pki.ClientKeyFile)
	for _, c := range []struct{ raw, wantName string }{
		{"rediss://h1:6379?" + files, "h1"},
		{"rediss://h1:6379?tls_server_name=redis.internal&" + files, "redis.internal"},
		{"rediss+cluster://h1:7000,h2:7000?" + files, ""}, // crypto/tls takes each node's host
		{"rediss+cluster://h1:7000,h2:7000?tls_server_name=redis.internal&" + files, "redis.internal"},
		{"rediss+sentinel://h1:26379/m?tls_server_name=redis.internal&" + files, "redis.internal"},
	} {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parseRedisURL(u)
		if err != nil {
			t.Fatalf("parseRedisURL(%q): %v", c.raw, err)
		}
		client := p.client()
		var cfg *tls.Config
		switch cl := client.(type) {
		case *redis.Client:
			cfg = cl.Options().TLSConfig
		case *redis.ClusterClient:
			cfg = cl.Options().TLSConfig
		}
		client.Close()
		if cfg == nil && p.kind == "sentinel" {
			cfg = p.tlsConfig() // a FailoverClient does not show its options
		}
		if cfg == nil {
			t.Fatalf("%s: no TLS configuration", c.raw)
		}
		if cfg.ServerName != c.wantName || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.InsecureSkipVerify {
			t.Errorf("%s: server name %q (want %q), authorities %v, %d client certificates, skip verify %v",
				c.raw, cfg.ServerName, c.wantName, cfg.RootCAs != nil, len(cfg.Certificates), cfg.InsecureSkipVerify)
		}
	}
}
