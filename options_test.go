package session

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		want string
	}{
		"no secret":        {Options{}, "no secret"},
		"empty secret":     {Options{Secrets: []string{"a", ""}}, "Secrets[1] is empty"},
		"unknown unset":    {Options{Secrets: []string{"a"}, Unset: "forget"}, "unknown Unset mode"},
		"bad name":         {Options{Secrets: []string{"a"}, Name: "my session"}, "not a valid token"},
		"name with semi":   {Options{Secrets: []string{"a"}, Name: "a;b"}, "not a valid token"},
		"negative max age": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{MaxAge: -time.Second}}, "negative"},
		"bad path":         {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Path: "app"}}, "must start with /"},
		"bad priority":     {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Priority: "urgent"}}, "priority"},
		"bad secure":       {Options{Secrets: []string{"a"}, Cookie: CookieOptions{Secure: 7}}, "Secure mode"},
		"touch after idle": {Options{Secrets: []string{"a"}, IdleTimeout: time.Minute, TouchAfter: time.Hour}, "TouchAfter"},
		// Browsers drop a SameSite=None cookie that is not Secure.
		"none not secure": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{SameSite: SameSiteNone}}, "SameSiteNone needs Cookie.Secure"},
		"auto not secure": {Options{Secrets: []string{"a"}, Cookie: CookieOptions{SameSite: SameSiteAuto, Secure: SecureNever}}, "SameSiteAuto needs Cookie.Secure"},
	} {
		_, err := New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New() error = %v, want one containing %q", name, err, tc.want)
		}
		if err != nil && !errors.Is(err, errOptions) {
			t.Errorf("%s: error does not wrap errOptions", name)
		}
	}
}

func TestNewDefaultsAreTheSafeOnes(t *testing.T) {
	m, err := New(Options{Secrets: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	o := m.opts
	if o.Name != "sid" || o.Resave || o.SaveUninitialized || o.Rolling || o.Unset != UnsetKeep ||
		o.Cookie.Path != "/" || o.Cookie.DisableHTTPOnly || m.store == nil || m.versioned == nil {
		t.Fatalf("unexpected defaults: %+v", o)
	}
}

// With several invalid options, New reports the same one every time (the
// first in the order of the Options fields), not one picked by map order.
func TestNewReportsInvalidOptionsInAStableOrder(t *testing.T) {
	opts := Options{Secrets: []string{"a"}, TouchAfter: -1, IdleTimeout: -1, AbsoluteTimeout: -1, Cookie: CookieOptions{MaxAge: -1}}
	_, first := New(opts)
	if first == nil || !strings.Contains(first.Error(), "TouchAfter") {
		t.Fatalf("New() = %v, want the TouchAfter error first", first)
	}
	for range 50 {
		if _, err := New(opts); err == nil || err.Error() != first.Error() {
			t.Fatalf("New() = %v, then %v", first, err)
		}
	}
}

func TestSameSiteNoneIsAcceptedWithASecureCookie(t *testing.T) {
	for _, ss := range []SameSiteMode{SameSiteNone, SameSiteAuto} {
		for _, sec := range []SecureMode{SecureAlways, SecureAuto} {
			if _, err := New(Options{Secrets: []string{"a"}, Cookie: CookieOptions{SameSite: ss, Secure: sec}}); err != nil {
				t.Errorf("SameSite %d with Secure %d: %v", ss, sec, err)
			}
		}
	}
}
