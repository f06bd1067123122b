package session

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

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
