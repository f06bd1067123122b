package session

import (
	"fmt"
	"testing"
	"time"
)

// A session an express app created records no creation time, so
// AbsoluteTimeout cannot count from express's creation of it; the first
// request here that loads it saves the time of its load, and AbsoluteTimeout
// counts from it (the README's options table and Options.AbsoluteTimeout say
// so).
func TestAbsoluteTimeoutOfAnExpressSessionCountsFromItsFirstSave(t *testing.T) {
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour, Cookie: CookieOptions{MaxAge: 24 * time.Hour}})
	exp := st.clock.Now().Add(24 * time.Hour)
	express := fmt.Sprintf(`{"cookie":{"originalMaxAge":86400000,"expires":%q,"httpOnly":true,"path":"/"},"views":7}`,
		exp.UTC().Format(isoMillis))
	if err := st.Store.Set(t.Context(), "expressid", []byte(express), exp); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(readViews))
	b.cookie = m.signer.cookieValue("expressid")

	st.clock.Advance(2 * time.Hour)
	if got := b.get("/").Body.String(); got != "7" {
		t.Fatalf("read 2h after express created it: views = %s, want 7: express's creation, 2h ago, is unknown here", got)
	}
	b.h = m.Handler(incrViews)
	if got := b.get("/").Body.String(); got != "8" {
		t.Fatalf("first save: views = %s, want 8", got)
	}
	b.h = m.Handler(readViews)
	st.clock.Advance(59 * time.Minute)
	if got := b.get("/").Body.String(); got != "8" {
		t.Fatalf("59m after the first save: views = %s, want 8", got)
	}
	st.clock.Advance(2 * time.Minute)
	if got := b.get("/").Body.String(); got != "0" {
		t.Fatalf("61m after the first save: views = %s, want a new session", got)
	}
}

// A session an express app created that this app only reads is still ended
// by AbsoluteTimeout: the first request that loads it records the time of
// that load (one write), where each read-only request counted afresh from
// its own load and the timeout, never recorded, acted as an idle timeout
// that a client using the session kept away for ever.
func TestAbsoluteTimeoutEndsAnExpressSessionThatIsOnlyRead(t *testing.T) {
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour, Cookie: CookieOptions{MaxAge: 24 * time.Hour}})
	exp := st.clock.Now().Add(24 * time.Hour)
	express := fmt.Sprintf(`{"cookie":{"originalMaxAge":86400000,"expires":%q,"httpOnly":true,"path":"/"},"views":7}`,
		exp.UTC().Format(isoMillis))
	if err := st.Store.Set(t.Context(), "expressid", []byte(express), exp); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(readViews))
	b.cookie = m.signer.cookieValue("expressid")
	for _, at := range []time.Duration{0, 20 * time.Minute, 20 * time.Minute, 19 * time.Minute} {
		st.clock.Advance(at)
		if got := b.get("/").Body.String(); got != "7" {
			t.Fatalf("read within the hour of the first load: views = %s, want 7", got)
		}
	}
	st.clock.Advance(2 * time.Minute) // 61 minutes after the first load
	if got := b.get("/").Body.String(); got != "0" {
		t.Fatalf("61m after the first load, used every 20m: views = %s, want a new session (AbsoluteTimeout)", got)
	}
}
