package main

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/redisstore"
)

// dana1LoggedIn is the login time (session.LoginKey) fillUsers stores in
// dana1; the other sessions have none, as an earlier version stored them.
const dana1LoggedIn = "2026-11-22T09:58:00.000Z"

// fillUsers stores three sessions of dana (one with a recorded client and
// a login time) and one of eve, indexed as the manager does it.
func fillUsers(t *testing.T, st session.Store) {
	t.Helper()
	ix := st.(session.UserIndex)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for id, user := range map[string]string{"dana1": "dana", "dana2": "dana", "dana3": "dana", "eve1": "eve"} {
		values := map[string]any{session.UserKey: user}
		if id == "dana1" {
			values[session.ClientKey] = map[string]string{"ua": "Firefox/140", "ip": "192.0.2.1"}
			values[session.LoginKey] = dana1LoggedIn
		}
		if err := ix.IndexUserSession(ctx, user, id, time.Now(), exp); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, id, document(t, &exp, values), exp); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUserListsTheSessionsOfOneUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		use(func(st session.Store) { fillUsers(t, st) })
		code, out, errOut := sessionctl(t, "", "-store", url, "user", "dana")
		if code != 0 || !strings.Contains(errOut, "3 session(s)") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		for _, want := range []string{"dana1", "dana2", "dana3", "Firefox/140", "192.0.2.1", "LOGGED IN", "2026-11-22T09:58:00Z ("} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "eve1") {
			t.Error("output lists another user's session")
		}
		code, _, errOut = sessionctl(t, "", "-store", url, "user", "nobody")
		if code != 0 || !strings.Contains(errOut, "no live sessions") {
			t.Errorf("unknown user: exit %d, stderr %q", code, errOut)
		}
	})
}

func TestLogoutUserDestroysTheSessionsOfOneUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string, use func(func(session.Store))) {
		use(func(st session.Store) { fillUsers(t, st) })
		code, out, _ := sessionctl(t, "", "-store", url, "logout-user", "-keep", "dana2", "dana")
		if code != 0 || !strings.Contains(out, "destroyed 2 session(s)") {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
		use(func(st session.Store) {
			for id, want := range map[string]bool{"dana1": false, "dana2": true, "dana3": false, "eve1": true, "alice": true} {
				if _, found, err := st.Get(context.Background(), id); err != nil || found != want {
					t.Errorf("%s: found %v, %v; want found %v", id, found, err, want)
				}
			}
		})
	})
}

// An application whose redisstore keeps its user index under another
// prefix (WithUserIndexPrefix) is reached with the same prefix in the store
// URL; without it sessionctl looks under the default one and finds nothing.
func TestUserFindsARedisUserIndexUnderTheURLsUserIndexPrefix(t *testing.T) {
	srv := testserver.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	fillUsers(t, redisstore.New(client, redisstore.WithUserIndexPrefix("app:users:")))

	url := "redis://" + srv.Addr
	code, out, errOut := sessionctl(t, "", "-store", url+"?user_index_prefix=app:users:", "user", "dana")
	if code != 0 || !strings.Contains(errOut, "3 session(s)") || !strings.Contains(out, "dana2") {
		t.Fatalf("with user_index_prefix=app:users:: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = sessionctl(t, "", "-store", url, "user", "dana")
	if code != 0 || !strings.Contains(errOut, "no live sessions") {
		t.Errorf("without user_index_prefix: exit %d, stderr %q; want no sessions found under sessuser:", code, errOut)
	}
	code, out, _ = sessionctl(t, "", "-store", url+"?user_index_prefix=app:users:", "logout-user", "dana")
	if code != 0 || !strings.Contains(out, "destroyed 3 session(s)") {
		t.Errorf("logout-user with user_index_prefix=app:users:: exit %d, stdout %q", code, out)
	}
}

func TestMemcachedHasNoUserIndex(t *testing.T) {
	srv := testserver.StartMemcached(t)
	for _, cmd := range []string{"user", "logout-user"} {
		code, _, errOut := sessionctl(t, "", "-store", memcachedURL(srv.Addr), cmd, "dana")
		if code != 1 || !strings.Contains(errOut, "memcached keeps no index of users' sessions") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut)
		}
	}
}

// The user agent and IP come from the client's request (RecordClient; the
// IP from X-Forwarded-For with TrustProxy), so a client chooses them; an
// id can be anything another writer of the store chose. The tables printed
// them as they were: a tab shifted the columns, an escape sequence drove
// the operator's terminal, a right-to-left override reordered the line.
// They now show such characters escaped, as in a Go string.
func TestTablesShowControlCharactersEscaped(t *testing.T) {
	url, use := backends[0].setup(t)
	const (
		ua = "Evil\t/1.0 \x1b]0;owned\x07 \u202egpj.exe \u009b2J"
		ip = "198.51.100.7\tadmin"
		id = "odd\tid\x1b[31m"
	)
	use(func(st session.Store) {
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		values := map[string]any{session.UserKey: "mallory", session.ClientKey: map[string]string{"ua": ua, "ip": ip}}
		if err := st.(session.UserIndex).IndexUserSession(ctx, "mallory", id, time.Now(), exp); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, id, document(t, &exp, values), exp); err != nil {
			t.Fatal(err)
		}
	})
	for _, args := range [][]string{{"user", "mallory"}, {"list"}} {
		code, out, _ := sessionctl(t, "", append([]string{"-store", url}, args...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d", args[0], code)
		}
		for _, r := range out {
			if (unicode.IsControl(r) && r != '\n') || unicode.Is(unicode.Bidi_Control, r) {
				t.Errorf("%s: output holds %U: %q", args[0], r, out)
				break
			}
		}
		want := []string{`odd\tid\x1b[31m`}
		if args[0] == "user" {
			want = append(want, `Evil\t/1.0 \x1b]0;owned\a \u202egpj.exe \u009b2J`, `198.51.100.7\tadmin`)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %s: %q", args[0], w, out)
			}
		}
	}
}

func TestCellEscapesWhatWouldDriveTheTerminal(t *testing.T) {
	for in, want := range map[string]string{
		"plain-ID_09":             "plain-ID_09",
		"héllo wörld ✓":           "héllo wörld ✓",
		"a\tb\nc\rd\x00e\x7f":     `a\tb\nc\rd\x00e\x7f`,
		"\x1b[2J\u009b2J":         `\x1b[2J\u009b2J`,
		"abc\u202edef\u2066":      `abc\u202edef\u2066`,
		"bad\x9butf8\xff":         `bad\x9butf8\xff`,
		"real \ufffd replacement": "real \ufffd replacement",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

// An empty USERID ("$USER_ID" unset in a script) is bad usage, not a user
// without sessions: logout-user "" said "destroyed 0 session(s)" and
// exited 0, as if the user had been logged out everywhere.
func TestAnEmptyUserIDIsBadUsage(t *testing.T) {
	for _, args := range [][]string{{"user", ""}, {"logout-user", ""}, {"logout-user", "-keep", "x", ""}} {
		code, out, errOut := sessionctl(t, "", append([]string{"-store", "mem://"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "USERID") || strings.Contains(out, "destroyed") {
			t.Errorf("sessionctl %q: exit %d, stdout %q, stderr %q; want exit %d saying USERID is empty", args, code, out, errOut, exitUsage)
		}
	}
}

// A time ahead of this machine's clock, a login time written by an app
// instance whose clock is ahead or by hand (the year 3000), shows how far
// ahead, where user printed it as a negative time ago: "-1h0m0s ago", and
// for the year 3000 the saturated "-2562047h47m16.854775808s ago".
func TestUserShowsATimeAheadOfTheClockAsAhead(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "-"},
		{now.Add(-90 * time.Second), "2026-11-22T09:58:30Z (1m30s ago)"},
		{now.Add(-300 * time.Millisecond), "2026-11-22T09:59:59Z (0s ago)"},
		{now.Add(time.Hour), "2026-11-22T11:00:00Z (in 1h0m0s, ahead of this clock)"},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "3000-01-01T00:00:00Z (in 2562047h47m16.854775807s, ahead of this clock)"},
	} {
		if got := since(now, tc.t); got != tc.want {
			t.Errorf("since(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// destroy ends one session of a user and removes the user's index entry
// for it, as the application's DestroyUserSession does: left, the entry
// would list a session that is gone until it expires (in the store's own
// view of the user, which other tools read), for as long as the session
// would have lived.
func TestDestroyRemovesTheUsersIndexEntry(t *testing.T) {
	check := func(t *testing.T, url string, use func(func(session.Store))) {
		use(func(st session.Store) { fillUsers(t, st) })
		code, out, errOut := sessionctl(t, "", "-store", url, "destroy", "dana1")
		if code != 0 || !strings.Contains(out, "destroyed session dana1") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		use(func(st session.Store) {
			entries := map[string]bool{}
			err := st.(session.UserIndex).UserSessions(context.Background(), "dana", func(id string, _, _ time.Time, data []byte) {
				entries[id] = data != nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := entries["dana1"]; ok {
				t.Errorf("dana's index still lists the destroyed dana1: %v", entries)
			}
			if !entries["dana2"] || !entries["dana3"] {
				t.Errorf("dana's other entries went too: %v", entries)
			}
		})
	}
	forEachIndexBackend(t, check)
}
