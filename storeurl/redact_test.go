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
		"postgres://u@127.0.0.1:1/db?sslmode=bogus&api_token=hunter2", // pgx quotes the URL, hiding only what it knows
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

// A semicolon does not separate query parameters (Open refuses it), but a
// secret after one is still a secret: neither Redact nor Open's error shows
// it.
func TestRedactHidesASecretAfterASemicolon(t *testing.T) {
	for _, rawURL := range []string{
		"redis://127.0.0.1:1/0?prefix=a;sentinel_password=hunter2",
		"redis+sentinel://127.0.0.1:1/m?db=0;sentinel_password=hunter2",
		"postgres://u@127.0.0.1:1/db?sslmode=disable;password=hunter2",
		"mongodb://127.0.0.1:1/app?appName=a;authToken=hunter2",
	} {
		t.Run(rawURL, func(t *testing.T) {
			if r := storeurl.Redact(rawURL); strings.Contains(r, "hunter2") || !strings.Contains(r, "=xxxxx") {
				t.Errorf("Redact = %q", r)
			}
			_, closer, err := storeurl.Open(t.Context(), rawURL)
			if err == nil {
				closer.Close()
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "a semicolon in the query") {
				t.Fatalf("got %v, want a semicolon error without the secret", err)
			}
		})
	}
}

// A password with an unescaped reserved character, or a URL without its
// "//", breaks the URL apart, and net/url's errors and Open's own quote the
// pieces (`invalid port ":ab" after host`). Open's errors hide them and
// still say what is wrong.
func TestOpenErrorsHideAPasswordThatIsNotPercentEscaped(t *testing.T) {
	for _, c := range []struct {
		url, want string
		pieces    []string // of the password, that the error must not show
	}{
		{"redis://user:ab#cd@127.0.0.1:6379/0", "a port that is not a number", []string{"ab#cd", ":ab", "cd@"}},
		{"postgres://user:ab/cd@host/db", "must be percent-escaped", []string{"ab/cd", ":ab", "/cd"}},
		{"redis://user:12/34@127.0.0.1:6379/0", `an "@" in the path`, []string{"12/34", ":12", "/34"}},
		{"redis://user:12#34@127.0.0.1:6379/0", "has no #fragment", []string{"12#34", ":12", "#34"}},
		{"redis://user:12?34@127.0.0.1:6379/0", "unknown parameter", []string{"12?34", ":12", "?34", `"34`}},
		{"redis:user:hunter2@127.0.0.1:6379/0", "want redis://host:port", []string{"hunter2"}},
		{"postgres:user:hunter2@127.0.0.1/db", "want postgres://user@host:port/db", []string{"hunter2"}},
		{"redis:/user:hunter2@127.0.0.1", `an "@" in the path`, []string{"hunter2"}},
	} {
		t.Run(c.url, func(t *testing.T) {
			_, closer, err := storeurl.Open(t.Context(), c.url)
			if err == nil {
				closer.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
			for _, p := range c.pieces {
				if strings.Contains(err.Error(), p) {
					t.Errorf("the error shows %q of the password: %v", p, err)
				}
			}
			if r := storeurl.Redact(c.url); r != "(unparsable URL)" && !strings.Contains(r, "xxxxx@") {
				t.Errorf("Redact = %q, want what precedes the @ hidden", r)
			}
		})
	}
}

// MongoDB takes the session token of temporary AWS credentials inside a
// parameter whose name says nothing of a secret:
// authMechanismProperties=AWS_SESSION_TOKEN:<token>. Redact and Open's
// errors hide the value of every KEY:value piece of a parameter's value
// whose KEY is named like a secret, however the value is escaped, and keep
// the other pieces.
func TestRedactHidesTheSessionTokenInAuthMechanismProperties(t *testing.T) {
	for _, c := range []struct{ url, keep string }{
		{"mongodb://AKID:hunter1@127.0.0.1:1/app?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:hunter2&serverSelectionTimeoutMS=100", "authMechanism=MONGODB-AWS"},
		{"mongodb://AKID:hunter1@127.0.0.1:1/app?authMechanism=MONGODB-AWS&authmechanismproperties=SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:hunter2&serverSelectionTimeoutMS=100", "SERVICE_NAME:mongodb"},
		{"mongodb://AKID:hunter1@127.0.0.1:1/app?authMechanism=MONGODB-AWS&authMechanismProperties=SERVICE_NAME%3Amongodb%2CAWS_SESSION_TOKEN%3Ahunter2&serverSelectionTimeoutMS=100", "SERVICE_NAME:mongodb"},
		{"mongodb://AKID:hunter1@127.0.0.1:1/app?authMechanism=MONGODB-AWS&authMechanismProperties=aws_session_token:hunter2;serverSelectionTimeoutMS=100", "authMechanism=MONGODB-AWS"},
	} {
		t.Run(c.url, func(t *testing.T) {
			r := storeurl.Redact(c.url)
			if strings.Contains(r, "hunter") || !strings.Contains(r, "TOKEN:xxxxx") && !strings.Contains(r, "token:xxxxx") || !strings.Contains(r, c.keep) {
				t.Errorf("Redact = %q, want the token hidden and %q kept", r, c.keep)
			}
			_, closer, err := storeurl.Open(t.Context(), c.url)
			if err == nil {
				closer.Close()
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "hunter") {
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

// A libpq key=value connection string ("host=db user=app password=...")
// is what many deployments keep in DATABASE_URL, and pgx reads it; it is
// not a URL, and Open says so without quoting it: it parses as a path
// without a scheme, which the unknown-scheme error quoted in full,
// password and all (and so did Redact, sessionctl's messages with it).
func TestAKeyValueConnectionStringIsRefusedWithoutBeingQuoted(t *testing.T) {
	for _, raw := range []string{
		"host=127.0.0.1 port=1 user=app password=hunter2 dbname=app",
		"user=app password='hunter2 with spaces'",
		"password=hunter2",
		"dbname=app password=hunter2?sslmode=disable",
		"host=db password=hun@ter2",
	} {
		t.Run(raw, func(t *testing.T) {
			if r := storeurl.Redact(raw); strings.Contains(r, "hunter2") || strings.Contains(r, "ter2") {
				t.Errorf("Redact = %q", r)
			}
			_, closer, err := storeurl.Open(t.Context(), raw)
			if err == nil {
				closer.Close()
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
				t.Errorf("the error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "not a URL") {
				t.Errorf("got %v, want it to say that a key=value string is not a URL", err)
			}
		})
	}
}
