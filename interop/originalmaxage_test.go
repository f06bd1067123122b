package interop

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestGoSaveOfACookieWithoutOriginalMaxAgeKeepsTheSessionForExpress: a
// stored session whose cookie has an expiry but no original max age
// ("originalMaxAge":null, or no such key: a document from another writer)
// is one Express goes on with (its next touch makes it a browser-session
// cookie). After a Go request changed it, Express must still find it. Go
// wrote "originalMaxAge":0 for the max age it did not know, and Express's
// next request, resetting the cookie to a max age of 0 ms, expired it at
// once and deleted the session (connect-redis's touch is EXPIRE key 0): the
// user was logged out.
func TestGoSaveOfACookieWithoutOriginalMaxAgeKeepsTheSessionForExpress(t *testing.T) {
	w := newWorld(t, nil)
	expires := time.Now().Add(2 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	for _, c := range []struct{ name, cookie string }{
		{"Null", `{"originalMaxAge":null,"expires":"` + expires + `","httpOnly":true,"path":"/"}`},
		{"Missing", `{"expires":"` + expires + `","httpOnly":true,"path":"/"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "nomaxage" + c.name + strings.Repeat("x", 16)
			if err := w.rdb.Set(context.Background(), "sess:"+id, `{"cookie":`+c.cookie+`,"views":1}`, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			b := w.browser()
			b.t = t
			b.cookie = signedCookie(id)
			if got := b.goViews(); got != 2 {
				t.Fatalf("Go: views = %d on the stored session, want 2", got)
			}
			if raw := w.raw(id); strings.Contains(raw, `"originalMaxAge":0`) {
				t.Errorf("Go stored %s: an original max age of 0 for one it does not know", raw)
			}
			if ns := b.nodeSession(); ns.ID != id || ns.Session["views"] != 2.0 {
				t.Fatalf("Express after Go's write: session %s %v, want %s with views 2", ns.ID, ns.Session, id)
			}
			if !w.exists(id) {
				t.Fatalf("Express's request after Go's write deleted the session")
			}
			if gs := b.goSession(); gs.New || gs.ID != id || gs.Values["views"] != 2.0 {
				t.Fatalf("Go after Express: session %s (new %v) %v, want %s with views 2", gs.ID, gs.New, gs.Values, id)
			}
		})
	}
}
