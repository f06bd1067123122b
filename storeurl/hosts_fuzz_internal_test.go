package storeurl

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzSplitHostsGivesDialableAddresses checks splitHosts on any host list:
// each address it returns splits back into a host name that is not empty
// and a port from 1 to 65535, one address for each entry of the list that
// is not empty, in the list's order; or it returns an error and no
// address.
func FuzzSplitHostsGivesDialableAddresses(f *testing.F) {
	f.Add("b:1,a,[::1],[::1]:5,,c:65535,", "11211")
	f.Add("h:0", "6379")
	f.Add("[::1", "6379")
	f.Add(":7000", "6379")
	f.Add("h:+80,h:080", "6379")
	f.Add("[]:1,[]", "6379")
	f.Fuzz(func(t *testing.T, list, defaultPort string) {
		addrs, err := splitHosts(list, defaultPort)
		if err != nil {
			if addrs != nil {
				t.Fatalf("splitHosts(%q, %q) = %q with the error %v", list, defaultPort, addrs, err)
			}
			return
		}
		var entries []string
		for e := range strings.SplitSeq(list, ",") {
			if e != "" {
				entries = append(entries, e)
			}
		}
		if len(addrs) != len(entries) {
			t.Fatalf("splitHosts(%q, %q) = %q, want one address for each of %q", list, defaultPort, addrs, entries)
		}
		for i, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				t.Fatalf("splitHosts(%q, %q): address %q does not split: %v", list, defaultPort, a, err)
			}
			if host == "" {
				t.Fatalf("splitHosts(%q, %q): address %q has no host", list, defaultPort, a)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("splitHosts(%q, %q): address %q has port %q", list, defaultPort, a, port)
			}
			if !strings.Contains(entries[i], host) {
				t.Fatalf("splitHosts(%q, %q): address %d is %q, not of entry %q", list, defaultPort, i, a, entries[i])
			}
		}
	})
}
