package demo

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// The cap on a session's keys holds for parallel PUTs too: each one
// checked the session as its request loaded it, and the library merges
// parallel saves key by key, so that 8 PUTs of 50 keys, each under the
// cap, all answered 200 and left 401 keys (and larger ones could fill a
// session up to the manager's MaxDocumentBytes, 512 KiB, not 64). A PUT
// that the merge would take over the cap now gets 422 and stores nothing.
func TestParallelPUTsDoNotTakeASessionOverTheCap(t *testing.T) {
	s := startDemo(t, t.TempDir())
	b := newBrowser(t, s)
	var r apiResult
	if code := b.api("PUT", "/api/session", `{"seed":1}`, &r); code != http.StatusOK {
		t.Fatalf("first PUT: status %d", code)
	}
	const puts, each = 8, maxKeys / 2
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, puts)
	for i := range puts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := jsonObject("p"+strings.Repeat("x", i)+"_", 0, each, "v")
			req, _ := http.NewRequest("PUT", b.base+"/api/session", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			<-start
			resp, err := b.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	b.api("GET", "/api/session", "", &r)
	stored := 1 // seed
	for _, code := range codes {
		switch code {
		case http.StatusOK:
			stored += each
		case http.StatusUnprocessableEntity:
		default:
			t.Errorf("statuses %v; want each 200, or 422 for a PUT that the others took to the cap", codes)
		}
	}
	if len(r.Data) > maxKeys || len(r.Data) != stored {
		t.Errorf("after %d parallel PUTs of %d keys each (statuses %v) the session holds %d keys; want the %d of the PUTs answered 200, at most %d", puts, each, codes, len(r.Data), stored, maxKeys)
	}
}
