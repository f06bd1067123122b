package faults_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session/internal/faults"
)

// scriptedApp answers the harness's /write and /read as App does, over a
// session held in memory, for one user: the write of failSeq fails (a 500
// naming a store timeout) without being stored; when the write of landSeq
// arrives, the session first goes back to backTo, as a write that the
// server carried out late would put it back.
func scriptedApp(failSeq, landSeq, backTo int) http.Handler {
	var mu sync.Mutex
	stored := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seq, _ := strconv.Atoi(r.FormValue("seq"))
		if seq == landSeq {
			stored = backTo
		}
		prev := stored
		if r.URL.Path == "/write" {
			if seq == failSeq {
				http.Error(w, "session: save: mongostore: compare-and-swap: context deadline exceeded", http.StatusInternalServerError)
				return
			}
			stored = seq
		}
		fmt.Fprintf(w, "sessionofthescriptedapp %d %t", prev, prev == 0)
	})
}

// runScripted runs one user against scriptedApp(failSeq, landSeq, backTo).
func runScripted(t *testing.T, failSeq, landSeq, backTo int) faults.Report {
	t.Helper()
	srv := httptest.NewServer(scriptedApp(failSeq, landSeq, backTo))
	t.Cleanup(srv.Close)
	cfg := faults.Config{URLs: []string{srv.URL}, Users: 1, Before: 1, After: landSeq + 2}
	rep, err := faults.Run(t.Context(), cfg, func(*faults.Live) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLostWritesOverwrittenByAFailedRequestsWriteAreToldApart(t *testing.T) {
	// Writes 3 and 4 are acknowledged, then the failed write 2 lands.
	rep := runScripted(t, 2, 5, 2)
	if rep.Lost != 2 || rep.LostToLateWrites != 2 {
		t.Errorf("%d lost, %d of them to late writes; want 2 and 2", rep.Lost, rep.LostToLateWrites)
	}
	if len(rep.LateWrites) != 1 || !strings.Contains(rep.LateWrites[0], "/write?seq=2 ") || !strings.Contains(rep.LateWrites[0], "context deadline exceeded") {
		t.Errorf("late writes %q, want the failed write 2 and its error", rep.LateWrites)
	}
	if len(rep.Histories) != 1 || !strings.Contains(rep.Histories[0], "[2 acknowledged writes lost]") {
		t.Errorf("histories %q, want the user's with the answer that found 2 lost", rep.Histories)
	}
}

func TestLostWritesOfASessionGoneBackToAnAcknowledgedWriteAreNotLateWrites(t *testing.T) {
	// The same failed write 2, but the session goes back to the
	// acknowledged write 1: a loss no late write explains.
	rep := runScripted(t, 2, 5, 1)
	if rep.Lost != 2 || rep.LostToLateWrites != 0 || len(rep.LateWrites) != 0 {
		t.Errorf("%d lost, %d of them to late writes (%q); want 2 and none", rep.Lost, rep.LostToLateWrites, rep.LateWrites)
	}
}
