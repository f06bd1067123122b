package main

import (
	"strings"
	"testing"
)

// An empty -store (a script's variable that is not set) overrides
// $SESSION_STORE, and the error says so, where it told the operator to set
// the variable that was set.
func TestAnEmptyStoreFlagSaysItIsEmpty(t *testing.T) {
	t.Setenv(StoreEnv, "bolt:///nonexistent/sessions.db")
	for _, args := range [][]string{{"-store", "", "count"}, {"count", "-store", ""}, {"-store", " ", "count"}} {
		code, _, errOut := sessionctl(t, "", args...)
		if code != 2 || !strings.Contains(errOut, "-store is empty") || strings.Contains(errOut, "set "+StoreEnv) {
			t.Errorf("%q: exit %d, stderr %q; want 2 saying -store is empty", args, code, errOut)
		}
	}
	t.Setenv(StoreEnv, "")
	if code, _, errOut := sessionctl(t, "", "count"); code != 2 || !strings.Contains(errOut, "give -store URL or set "+StoreEnv) {
		t.Errorf("no store at all: exit %d, stderr %q; want 2 saying how to give one", code, errOut)
	}
}
