package bench

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session/memstore"
)

// What TestScale's setup must get right for its figures to mean what the
// README says; these run without -scale.

// A read is a load alone, whatever the time between the fill and the
// reads: a million sessions take minutes to write, and a read whose touch
// fell due would rewrite its session instead (an fsync on bbolt).
func TestScaleReadIsALoadAloneHoweverLongTheFillTook(t *testing.T) {
	st := memstore.New(memstore.WithSweepInterval(0))
	defer st.Close()
	id := newScaleID()
	written := time.Now().Add(-5 * time.Minute) // a fill of five minutes
	doc := scaleDocument(t, written)
	if err := st.Set(t.Context(), id, doc, written.Add(scaleLifetime)); err != nil {
		t.Fatal(err)
	}
	read, _ := scaleHandlers(t, st)

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", scaleCookie(id))
	w := httptest.NewRecorder()
	read.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("read: status %d: %s", w.Code, w.Body)
	}
	got, found, err := st.Get(t.Context(), id)
	if err != nil || !found {
		t.Fatalf("after the read: found %v, err %v", found, err)
	}
	if !bytes.Equal(got, doc) {
		t.Fatalf("the read rewrote the session written 5 minutes before it:\nwas %s\nnow %s", doc, got)
	}
}
