package memcachedstore_test

import (
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/session/memcachedstore"
)

// A prefix that leaves no room for an id under the 250-byte key limit, or
// that Memcached keys cannot hold, is refused by New with a message that
// says why, instead of every later call failing with ErrMalformedKey.
func TestNewRefusesAPrefixThatCannotWork(t *testing.T) {
	for prefix, want := range map[string]string{
		strings.Repeat("p", 219): "leaves 31 for the session id",
		strings.Repeat("p", 300): "leaves 0 for the session id",
		"my app:":                "space or control character",
		"app\n":                  "space or control character",
	} {
		err := memcachedstore.CheckPrefix(prefix)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckPrefix(%.20q…) = %v, want an error containing %q", prefix, err, want)
		}
		func() {
			defer func() {
				p := recover()
				if perr, ok := p.(error); !ok || err == nil || perr.Error() != err.Error() {
					t.Errorf("New with prefix %.20q…: panic %v, want CheckPrefix's error", prefix, p)
				}
			}()
			memcachedstore.New(memcache.New("127.0.0.1:1"), memcachedstore.WithPrefix(prefix))
		}()
	}
	for _, prefix := range []string{"", memcachedstore.DefaultPrefix, strings.Repeat("p", 218)} {
		if err := memcachedstore.CheckPrefix(prefix); err != nil {
			t.Errorf("CheckPrefix(%.20q…) = %v", prefix, err)
		}
		memcachedstore.New(memcache.New("127.0.0.1:1"), memcachedstore.WithPrefix(prefix))
	}
}
