package storeurl_test

import (
	"strings"
	"testing"

	"github.com/sessionkit/session/storeurl"
)

// No error from Open shows a secret: not the user-info password, not the
// value of a parameter named like a password, secret, token or key, not
// even when that parameter is itself what is wrong.
func TestOpenErrorsNeverShowSecrets(t *testing.T) {
	for _, rawURL := range []string{
		"redis+sentinel://127.0.0.1:1/mymaster?sentinel_password=hunter2&pool_size=0",
		"redis+sentinel://127.0.0.1:1/mymaster?sentinel_password=hunter2&sentinel_password=hunter2",
		"redis://localhost?sentinel_password=hunter2",
		"redis+sentinel://u:hunter2@127.0.0.1:1/mymaster?bogus=1",
		"redis://u:hunter2@localhost:bad/",
		"redis+sentinel://127.0.0.1:1/m?sentinel_password=hunter2&x=%zz",
		"nosuch://h?api_token=hunter2",
		"memcached://h1?auth_key=hunter2",
		"mem://?ClientSecret=hunter2",
		"bolt:///tmp/x.db?password=hunter2",
		"mongodb://u:hunter2@127.0.0.1:1/app?connectTimeoutMS=soon",
		"mongodb://u:hunter2@127.0.0.1:1/app?default_ttl=soon",
		"mongodb://127.0.0.1:1/app?tlsCertificateKeyFilePassword=hunter2&connectTimeoutMS=soon",
		"mongodb://u:hunter2@127.0.0.1:1/app?serverSelectionTimeoutMS=100",
	} {
		t.Run(rawURL, func(t *testing.T) {
			_, closer, err := storeurl.Open(t.Context(), rawURL)
			if err == nil {
				closer.Close()
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}
