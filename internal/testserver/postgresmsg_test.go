package testserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// As root, PostgreSQL runs as the user postgres. Without that user, the
// message said "user postgres (...) not found in PATH; install it with:
// apt-get install -y postgresql": a user is not looked for in PATH, and
// where PostgreSQL is installed, installing it again does nothing.
func TestNoPostgresUserSaysWhatIsMissingAndHowToFixIt(t *testing.T) {
	const name = "sessionkit-no-such-user"
	_, err := credentialFor(0, name)
	if err == nil {
		t.Fatalf("user %s found", name)
	}
	msg := err.Error()
	for _, want := range []string{`no user "` + name + `"`, "root", "useradd --system --user-group " + name, "not as root"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "PATH") {
		t.Errorf("%q speaks of PATH, where no user is looked for", msg)
	}
	t.Setenv(RequireEnv, "")
	if r := runCheck(err); r.skipped == "" {
		t.Errorf("failed %q; want a skip, as for a missing binary", r.failed)
	}
	if cred, err := credentialFor(1000, name); cred != nil || err != nil {
		t.Errorf("not root: credential %v, error %v; want neither", cred, err)
	}
}

// initdb found in PATH without postgres beside it was reported as
// "postgres next to /x/initdb not found in PATH".
func TestInitdbWithoutPostgresBesideItSaysWhere(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "initdb"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(lib string) { postgresLib = lib }(postgresLib)
	postgresLib = t.TempDir()
	t.Setenv("PATH", bin)
	_, err := postgresBinDir()
	if err == nil {
		t.Fatal("found a postgres binary that is not there")
	}
	msg := err.Error()
	for _, want := range []string{filepath.Join(bin, "initdb"), "no postgres beside it", "apt-get install -y postgresql"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "PATH") {
		t.Errorf("%q speaks of PATH, where postgres was not looked for", msg)
	}
}
