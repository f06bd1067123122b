package session

import (
	"fmt"
	"net/http"
	"strings"
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
	b := expressBrowser(t, m, st.Store, st.clock.Now(), 24*time.Hour, 86400000, "")

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
	b := expressBrowser(t, m, st.Store, st.clock.Now(), 24*time.Hour, 86400000, "")
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

// A session an express app created, within MaxDocumentBytes as express
// stored it but not once its creation time is added, is still read by a
// request that only reads it, with AbsoluteTimeout: the write that would
// record its load time cannot be made, and the request goes on as one
// without AbsoluteTimeout's record (a touch), where every request of the
// session failed (the ErrorHandler's 500) for as long as it lived.
func TestAbsoluteTimeoutReadsAnExpressSessionTooLargeToRecordItsLoad(t *testing.T) {
	notes := fmt.Sprintf(`,"notes":%q`, strings.Repeat("n", 300))
	doc, _ := expressDocument(time.Now(), 24*time.Hour, 86400000, notes)
	m, st := newTestManager(t, Options{AbsoluteTimeout: time.Hour, MaxDocumentBytes: len(doc) + 10, Cookie: CookieOptions{MaxAge: 24 * time.Hour}})
	b := expressBrowser(t, m, st.Store, st.clock.Now(), 24*time.Hour, 86400000, notes)
	for range 2 {
		rec := b.get("/")
		if rec.Code != http.StatusOK || rec.Body.String() != "7" {
			t.Fatalf("a read-only request: status %d, body %q; want 200 and the session's views, 7", rec.Code, rec.Body.String())
		}
	}
}

// expressDocument is the document express-session stores at now for a
// session with views 7 (and extra, JSON members after it, if any) whose
// cookie of maxAge has the given originalMaxAge in milliseconds.
func expressDocument(now time.Time, maxAge time.Duration, originalMaxAge int64, extra string) (doc []byte, expires time.Time) {
	expires = now.Add(maxAge)
	return fmt.Appendf(nil, `{"cookie":{"originalMaxAge":%d,"expires":%q,"httpOnly":true,"path":"/"},"views":7%s}`,
		originalMaxAge, expires.UTC().Format(isoMillis), extra), expires
}

// expressBrowser stores under the id "expressid" in st the document
// expressDocument gives, as an express app would, and returns a browser on
// m's readViews holding that session's cookie.
func expressBrowser(t *testing.T, m *Manager, st Store, now time.Time, maxAge time.Duration, originalMaxAge int64, extra string) *browser {
	t.Helper()
	doc, expires := expressDocument(now, maxAge, originalMaxAge, extra)
	if err := st.Set(t.Context(), "expressid", doc, expires); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, m.Handler(readViews))
	b.cookie = m.signer.cookieValue("expressid")
	return b
}
