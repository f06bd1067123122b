package demo

import (
	"strings"
	"testing"
)

// Without -store and -name, and without their variables, the demo takes
// the default store and name: only an empty flag is an error
// (TestAnEmptyFlagIsAUsageError).
func TestNoStoreOrNameFlagTakesTheDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil, func(string) string { return "" }, &strings.Builder{})
	if err != nil || cfg.StoreURL != "" || cfg.Name != DefaultName {
		t.Errorf("no flags: config %+v, error %v; want the default store and name", cfg, err)
	}
}
