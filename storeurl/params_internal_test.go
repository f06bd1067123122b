package storeurl

import (
	"go/parser"
	"go/token"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParamErrorsComeInTheURLsOrder(t *testing.T) {
	for _, c := range []struct {
		url  string
		want []string // in this order
	}{
		{"mem://?zeta=1&max_sessions=ten&alpha=2&sweep_interval=often&default_ttl=0", []string{
			`unknown parameter "zeta"`, `max_sessions="ten"`, `unknown parameter "alpha"`, `sweep_interval="often"`, `default_ttl="0"`,
		}},
		{"redis://localhost?write_timeout=x&pool_size=0&db=-1&read_timeout=y&max_retries=-2", []string{
			`write_timeout="x"`, `pool_size="0"`, `db="-1"`, `read_timeout="y"`, `max_retries="-2"`,
		}},
		{"memcached://h1?timeout=soon&prefix=a&pool_size=0&prefix=b&dial_timeout=-1s", []string{
			`timeout="soon"`, `"prefix" given 2 times`, `pool_size="0"`, `dial_timeout="-1s"`,
		}},
	} {
		t.Run(c.url, func(t *testing.T) {
			u, err := url.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			var first string
			// Map iteration differs from run to run; the message must not.
			for range 20 {
				_, _, err := schemes[u.Scheme].open(t.Context(), u)
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				if first == "" {
					first = msg
				} else if msg != first {
					t.Fatalf("the error changed between runs:\n%s\n%s", first, msg)
				}
			}
			at := -1
			for _, w := range c.want {
				i := strings.Index(first, w)
				if i < 0 {
					t.Fatalf("error %q does not mention %q", first, w)
				}
				if i < at {
					t.Fatalf("error %q: %q comes before the parameter ahead of it in the URL", first, w)
				}
				at = i
			}
			if n := strings.Count(first, "; ") + 1; n != len(c.want) {
				t.Errorf("error %q reports %d problems, want %d", first, n, len(c.want))
			}
		})
	}
}

func TestParamErrorsNameTheBadEscape(t *testing.T) {
	u, _ := url.Parse("mem://?max_sessions=%zz&sweep%zz=1&a=1;b=2")
	var opts []any
	err := applyParams(&opts, u, paramTable[[]any]{})
	for _, want := range []string{`parameter "max_sessions": bad escape`, `query parameter "sweep%zz"`, "semicolon"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}

func TestSplitHostsGivesEachHostItsPortInOrder(t *testing.T) {
	got, err := splitHosts("b:1,a,[::1],[::1]:5,,c:65535,", "11211")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b:1", "a:11211", "[::1]:11211", "[::1]:5", "c:65535"}
	if !slices.Equal(got, want) {
		t.Fatalf("splitHosts = %q, want %q", got, want)
	}
	if got, err := splitHosts("", "6379"); err != nil || len(got) != 0 {
		t.Fatalf("splitHosts of no hosts = %q, %v; want none, no error", got, err)
	}
	if got, err := splitHosts("::1,fe80::1%eth0", "6379"); err != nil || !slices.Equal(got, []string{"[::1]:6379", "[fe80::1%eth0]:6379"}) {
		t.Fatalf("splitHosts of IPv6 addresses without brackets = %q, %v", got, err)
	}
	// Entries that are no host, host:port, [IPv6] or [IPv6]:port gave
	// addresses that no dialer reads ("[h:1:2]:6379", "[::1]x]:6379").
	for _, bad := range []string{"h:", "h:0", "h:65536", "h:port", ":7000", "a:1,[]", "h:1:2", "[::1]x", "[::1", "a]b", "[a]b]"} {
		if got, err := splitHosts(bad, "6379"); err == nil {
			t.Errorf("splitHosts(%q) = %q, want an error", bad, got)
		}
	}
}

// Both multi-host schemes read their host list with splitHosts.
func TestRedisAndMemcachedShareTheHostListRules(t *testing.T) {
	for _, raw := range []string{"redis+cluster://a,b:7001", "memcached://a,b:7001"} {
		u, _ := url.Parse(raw)
		var addrs []string
		if u.Scheme == "memcached" {
			p, err := parseMemcachedURL(u)
			if err != nil {
				t.Fatal(err)
			}
			addrs = p.addrs
		} else {
			p, err := parseRedisURL(u)
			if err != nil {
				t.Fatal(err)
			}
			addrs = p.addrs
		}
		if len(addrs) != 2 || !strings.HasPrefix(addrs[0], "a:") || addrs[1] != "b:7001" {
			t.Errorf("%s: addresses %q", raw, addrs)
		}
		bad, _ := url.Parse(strings.Replace(raw, "b:7001", "b:0", 1))
		_, _, err := schemes[bad.Scheme].open(t.Context(), bad)
		if err == nil || !strings.Contains(err.Error(), `host "b:0"`) {
			t.Errorf("%s: error %v, want one naming host b:0", bad, err)
		}
	}
}

func TestPackageDocListsEverySchemeAndParameter(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "storeurl.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	for name, s := range schemes {
		if !strings.Contains(doc, name+"://") {
			t.Errorf("the package doc does not show the scheme %s://", name)
		}
		for _, p := range s.params {
			if !strings.Contains(doc, p.name+"=") {
				t.Errorf("the package doc does not list %s's parameter %s=", name, p.name)
			}
			if p.doc == "" || !slices.Contains([]string{"duration", "int", "bool", "string", "path"}, p.kind) {
				t.Errorf("%s's parameter %s: kind %q, doc %q", name, p.name, p.kind, p.doc)
			}
		}
	}
}

func TestRedactHidesEverySecret(t *testing.T) {
	for raw, want := range map[string]string{
		"redis+sentinel://u:pw@h1,h2/m?sentinel_password=hunter2&prefix=a": "redis+sentinel://u:xxxxx@h1,h2/m?sentinel_password=xxxxx&prefix=a",
		"mongodb://h/db?authToken=t0k&x=1&APIKey=k3y&ClientSecret=s3c":     "mongodb://h/db?authToken=xxxxx&x=1&APIKey=xxxxx&ClientSecret=xxxxx",
		"postgres://h/db?password=p%40ss&sslmode=disable":                  "postgres://h/db?password=xxxxx&sslmode=disable",
		"redis://h?x%zz=secretvalue":                                       "redis://h?x%zz=xxxxx", // a name that does not decode: hide its value
		"mem://?max_sessions=10":                                           "mem://?max_sessions=10",
		"bolt:rel.db?bucket=b":                                             "bolt:rel.db?bucket=b",
		"redis://h:bad port/":                                              "(unparsable URL)",
		"redis://h/0?prefix=a;sentinel_password=s3c&x=1":                   "redis://h/0?prefix=a;sentinel_password=xxxxx&x=1",
		"redis://u:12/34@h:6379/0?token=t0k":                               "redis://xxxxx@h:6379/0?token=xxxxx",
		"redis:u:hunter2@h/0":                                              "redis:xxxxx@h/0",
	} {
		if got := Redact(raw); got != want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", raw, got, want)
		}
	}
}
