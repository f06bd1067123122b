package demo

import (
	"errors"
	"strings"
	"testing"
)

// An empty -store or -name is, like an empty -addr or -secret, most likely
// a script's variable that is not set: -store "$REDIS_URL" must not quietly
// give each of two load-balanced demos a bolt file of its own (a visitor
// logged out whenever the other one answers), nor -name "" the default
// name. Both are usage errors, even over their environment variables.
func TestAnEmptyStoreOrNameFlagIsAUsageError(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"SESSION_STORE": "redis://127.0.0.1:6379/0", "SESSION_NAME": "app"}[k]
	}
	for _, args := range [][]string{{"-store", ""}, {"-store", " "}, {"-name", ""}, {"-name", " "}} {
		var out strings.Builder
		cfg, err := ParseConfig(args, getenv, &out)
		var usage *UsageError
		if !errors.As(err, &usage) {
			t.Errorf("%q: config %+v, error %v; want a usage error", args, cfg, err)
			continue
		}
		if !strings.Contains(out.String(), args[0]+" is empty") || !strings.Contains(out.String(), "Usage: sessiondemo") {
			t.Errorf("%q: output %q; want the error and the usage", args, out.String())
		}
	}
	// Without the flags, the defaults (and the variables) still apply.
	cfg, err := ParseConfig(nil, func(string) string { return "" }, &strings.Builder{})
	if err != nil || cfg.StoreURL != "" || cfg.Name != DefaultName {
		t.Errorf("no flags: config %+v, error %v; want the default store and name", cfg, err)
	}
}
