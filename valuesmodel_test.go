package session

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// modelValues is what a session should hold: its keys' values (ints) and
// its "info" flash messages.
type modelValues struct {
	vals    map[string]int
	flashes []string
}

func (v modelValues) clone() modelValues {
	return modelValues{vals: maps.Clone(v.vals), flashes: slices.Clone(v.flashes)}
}

// checkSession fails unless s holds exactly want's keys and values.
func checkSession(t *testing.T, where string, s *Session, want modelValues) {
	t.Helper()
	var wantKeys []string
	for k := range want.vals {
		wantKeys = append(wantKeys, k)
	}
	if len(want.flashes) > 0 {
		wantKeys = append(wantKeys, flashKey)
	}
	slices.Sort(wantKeys)
	if keys := s.Keys(); !slices.Equal(keys, wantKeys) {
		t.Fatalf("%s: Keys %v, want %v", where, keys, wantKeys)
	}
	for k, v := range want.vals {
		if got, ok := GetAs[int](s, k); !ok || got != v {
			t.Fatalf("%s: %s = %v (%v), want %d", where, k, got, ok, v)
		}
	}
}

// flashCall is one Flash (take false) or Flashes call of a request.
type flashCall struct {
	take bool
	msgs []string
}

// modelRequest runs random calls on a session, beside the model of what
// it holds (cur) and of what its store holds (stored).
type modelRequest struct {
	t       *testing.T
	rng     *rand.Rand
	where   string
	s       *Session
	r       *http.Request
	cur     modelValues
	stored  *modelValues
	changed map[string]*int // since the last save: the value set, nil for deleted
	flashes []flashCall     // since the last save
}

func (q *modelRequest) run(n int, alone bool) {
	key := func() string { return fmt.Sprint("k", q.rng.IntN(3)) }
	for i := range n {
		op := q.rng.IntN(9)
		if !alone && op >= 5 {
			op = 8 // no Save, Reload or Clear beside another request
		}
		switch op {
		case 0, 1:
			k, v := key(), q.rng.IntN(1000)
			q.s.Set(k, v)
			if old, ok := q.cur.vals[k]; !ok || old != v { // setting the same value changes nothing
				q.changed[k] = &v
			}
			q.cur.vals[k] = v
		case 2:
			k := key()
			q.s.Delete(k)
			if _, ok := q.cur.vals[k]; ok { // deleting a missing key changes nothing
				q.changed[k] = nil
			}
			delete(q.cur.vals, k)
		case 3:
			msg := fmt.Sprint("m", q.rng.IntN(100))
			q.s.Flash("info", msg)
			q.cur.flashes = append(q.cur.flashes, msg)
			q.flashes = append(q.flashes, flashCall{msgs: []string{msg}})
		case 4:
			got := q.s.Flashes("info")
			if !slices.Equal(got, q.cur.flashes) {
				q.t.Fatalf("%s call %d: Flashes %v, want %v", q.where, i, got, q.cur.flashes)
			}
			if len(got) > 0 {
				q.flashes = append(q.flashes, flashCall{take: true, msgs: got})
			}
			q.cur.flashes = nil
		case 5:
			if err := q.s.Save(q.r.Context()); err != nil {
				q.t.Fatalf("%s call %d: Save: %v", q.where, i, err)
			}
			*q.stored = q.cur.clone()
			clear(q.changed)
			q.flashes = nil
		case 6:
			if err := q.s.Reload(q.r.Context()); err != nil {
				q.t.Fatalf("%s call %d: Reload: %v", q.where, i, err)
			}
			q.cur = q.stored.clone()
			clear(q.changed)
			q.flashes = nil
		case 7:
			q.s.Clear() // only alone: changed is not read then
			q.cur = modelValues{vals: map[string]int{}}
		case 8:
			_ = q.s.Get(key())
		}
		checkSession(q.t, fmt.Sprintf("%s call %d (op %d)", q.where, i, op), q.s, q.cur)
	}
}

// TestSessionValuesFollowAModelThroughLoadsChangesSavesReloadsAndMerges
// runs random Set, Delete, Clear, Flash, Flashes, Save and Reload calls
// over requests, some of them two at a time on one session (the second's
// save re-merges its changes over the first's write), beside a model of
// what the session holds: every read and every stored copy must agree with
// it, whatever storage the session's values and changes share (one value
// loaded, a first change, a second one that moves them to a slice of their
// own, a save that starts the changes again).
func TestSessionValuesFollowAModelThroughLoadsChangesSavesReloadsAndMerges(t *testing.T) {
	for seed := range uint64(200) {
		sessionValuesModelRun(t, seed)
	}
}

func sessionValuesModelRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	m, _ := newTestManager(t, Options{Cookie: CookieOptions{MaxAge: time.Hour}})
	var (
		mu   sync.Mutex
		step func(r *http.Request, s *Session)
	)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		f := step
		mu.Unlock()
		f(r, From(r))
	}))
	setStep := func(f func(r *http.Request, s *Session)) {
		mu.Lock()
		step = f
		mu.Unlock()
	}
	b := newBrowser(t, h)
	setStep(func(r *http.Request, s *Session) { s.Set("k0", 0) })
	b.get("/")
	stored := modelValues{vals: map[string]int{"k0": 0}}
	for req := range 25 {
		where := fmt.Sprintf("seed %d request %d", seed, req)
		if rng.IntN(3) > 0 { // a request alone
			var q *modelRequest
			setStep(func(r *http.Request, s *Session) {
				checkSession(t, where+" load", s, stored)
				q = &modelRequest{t: t, rng: rng, where: where, s: s, r: r, cur: stored.clone(), stored: &stored, changed: map[string]*int{}}
				q.run(1+rng.IntN(6), true)
			})
			b.get("/")
			stored = q.cur
			continue
		}
		// Two requests on one session: A and B load it, A runs and
		// returns, then B, whose save re-merges its changes over A's write.
		loaded, release := make(chan string), map[string]chan struct{}{"A": make(chan struct{}), "B": make(chan struct{})}
		qs := map[string]*modelRequest{}
		setStep(func(r *http.Request, s *Session) {
			name := r.URL.Path[1:]
			checkSession(t, where+name+" load", s, stored)
			loaded <- name
			<-release[name]
			st := stored.clone()
			q := &modelRequest{t: t, rng: rng, where: where + name, s: s, r: r, cur: stored.clone(), stored: &st, changed: map[string]*int{}}
			q.run(1+rng.IntN(5), false)
			mu.Lock()
			qs[name] = q
			mu.Unlock()
		})
		done := make(chan struct{}, 2)
		for _, name := range []string{"A", "B"} {
			go func() {
				c := *b // the same cookie, its own response
				c.do(httptest.NewRequest(http.MethodGet, "/"+name, nil))
				done <- struct{}{}
			}()
			<-loaded
		}
		close(release["A"])
		<-done
		close(release["B"])
		<-done
		a, bq := qs["A"], qs["B"]
		want := a.cur.clone()
		for k, v := range bq.changed {
			if v == nil {
				delete(want.vals, k)
			} else {
				want.vals[k] = *v
			}
		}
		for _, f := range bq.flashes {
			if !f.take {
				want.flashes = append(want.flashes, f.msgs...)
				continue
			}
			for _, msg := range f.msgs {
				if i := slices.Index(want.flashes, msg); i >= 0 {
					want.flashes = slices.Delete(want.flashes, i, i+1)
				}
			}
		}
		if len(want.flashes) == 0 {
			want.flashes = nil
		}
		stored = want
		// The next request checks what the merge stored; its flashes are
		// checked by the first Flashes call that reads them.
	}
}
