package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	session "github.com/sessionkit/session"
	"github.com/sessionkit/session/memstore"
)

// What TestScale's setup must get right for its figures to mean what the
// README says; these run without -scale.

// idRecorder is a Store that remembers the ids it was given to Set.
type idRecorder struct {
	session.Store
	mu  sync.Mutex
	ids []string
}

func (r *idRecorder) Set(ctx context.Context, id string, data []byte, expires time.Time) error {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	return r.Store.Set(ctx, id, data, expires)
}

// The bytes per session are measured from before the fill, after the ids
// were made: a store that keeps the id string it is given (memstore) must
// get one of its own, or its ids' bytes are left out of the figure.
func TestScaleFillHandsTheStoreIDsOfItsOwn(t *testing.T) {
	st := &idRecorder{Store: memstore.New(memstore.WithSweepInterval(0))}
	ids := make([]string, 100)
	at := map[string]*byte{}
	for i := range ids {
		ids[i] = newScaleID()
		at[ids[i]] = unsafe.StringData(ids[i])
	}
	fill(t, st, scaleStore{}, ids, scaleDocument(t, time.Now()), func() time.Time { return time.Now().Add(scaleLifetime) })

	if len(st.ids) != len(ids) {
		t.Fatalf("the store got %d ids, want %d", len(st.ids), len(ids))
	}
	for _, id := range st.ids {
		p, ok := at[id]
		if !ok {
			t.Fatalf("the store got id %q, which is not one of the fill's", id)
		}
		if unsafe.StringData(id) == p {
			t.Fatalf("the store got the caller's own string for id %q, not a copy: its bytes were allocated before the measure started", id)
		}
	}
}

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

	serveScale(t, "read", read, id)
	got, found, err := st.Get(t.Context(), id)
	if err != nil || !found {
		t.Fatalf("after the read: found %v, err %v", found, err)
	}
	if !bytes.Equal(got, doc) {
		t.Fatalf("the read rewrote the session written 5 minutes before it:\nwas %s\nnow %s", doc, got)
	}
}

// The fill writes the document the benchmark's manager writes, so that a
// session's bytes are the same before and after a modifying request.
func TestScaleWriteStoresTheDocumentTheFillWrote(t *testing.T) {
	st := memstore.New(memstore.WithSweepInterval(0))
	defer st.Close()
	id := newScaleID()
	doc := scaleDocument(t, time.Now())
	if err := st.Set(t.Context(), id, doc, time.Now().Add(scaleLifetime)); err != nil {
		t.Fatal(err)
	}
	_, write := scaleHandlers(t, st)
	serveScale(t, "write", write, id)
	saved, _, err := st.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	cookieKeys := func(b []byte) []string {
		var d struct{ Cookie map[string]any }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return slices.Sorted(maps.Keys(d.Cookie))
	}
	if was, now := cookieKeys(doc), cookieKeys(saved); !slices.Equal(was, now) {
		t.Fatalf("the fill's document has cookie members %q, the manager's save %q:\nfill %s\nsave %s", was, now, doc, saved)
	}
}

// serveScale sends one request with session id's cookie to h, the
// benchmark's read or write handler (kind), and fails the test unless it
// answers 200.
func serveScale(t *testing.T, kind string, h http.Handler, id string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", scaleCookie(id))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: status %d: %s", kind, w.Code, w.Body)
	}
}

// A store whose server is not installed here is left out of the run, with
// a row saying so, and the stores after it are still measured: the run
// must not skip (as StartPostgres would) or fail as a whole. A store
// without a listing or a PurgeExpired gets its reason in the table.
func TestScaleLeavesOutOnlyTheStoresWhoseServerIsMissing(t *testing.T) {
	defer func(d time.Duration) { *scaleDuration = d }(*scaleDuration)
	*scaleDuration = 20 * time.Millisecond
	stores := []scaleStore{
		{name: "absent", sizes: "50", available: func() error { return errors.New("absent-server not found in PATH") },
			open: func(t *testing.T) (session.Store, func() int64, func()) {
				t.Fatal("opened a store whose server is missing")
				return nil, nil, nil
			}},
		{name: "listless", sizes: "50", noList: "it cannot list its keys", noPurge: "it expires items itself",
			open: func(t *testing.T) (session.Store, func() int64, func()) {
				st := memstore.New(memstore.WithSweepInterval(0))
				// The Store methods alone: no Lister, no Purger.
				return struct{ session.Store }{st}, func() int64 { return 0 }, func() { st.Close() }
			}},
	}
	rows := scaleRows(t, stores, regexp.MustCompile(""))
	if len(rows) != 2 || rows[0].skipped == "" || rows[1].skipped != "" || rows[1].n != 50 {
		t.Fatalf("rows = %+v, want the absent store's skipped and the listless store's of 50 sessions", rows)
	}
	table := scaleTable(rows)
	for _, want := range []string{
		"| absent | skipped (server not available) |",
		"| listless | 50 |",
		"| — (it cannot list its keys) | — | — (it expires items itself) |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table has no %q:\n%s", want, table)
		}
	}
}

// The bytes per session of the stores on a server (pgstore's table,
// FerretDB's database, memcached's items) count what the fill stored: at
// least each session's document, and every session the fill wrote is
// there to read (memcached evicted none, FerretDB refused no write).
func TestScaleServerStoresMeasureWhatTheFillStored(t *testing.T) {
	const n = 300
	for _, s := range scaleStores() {
		if s.name != "pgstore" && s.name != "mongostore" && s.name != "memcachedstore" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			st, used, closeFn := s.open(t) // skips where the server is not installed
			defer closeFn()
			doc := scaleDocument(t, time.Now())
			ids := make([]string, n)
			for i := range ids {
				ids[i] = newScaleID()
			}
			before := used()
			fill(t, st, s, ids, doc, func() time.Time { return time.Now().Add(scaleLifetime) })
			perSession := float64(used()-before) / n
			if perSession < float64(len(doc)) {
				t.Errorf("%.0f bytes per session, less than the %d of each session's document", perSession, len(doc))
			}
			read, _ := scaleHandlers(t, st)
			for _, id := range ids {
				serveScale(t, "read", read, id)
			}
			if l, ok := st.(session.Lister); ok {
				if c, err := l.Count(t.Context()); err != nil || c != n {
					t.Errorf("Count = %d, %v; want %d", c, err, n)
				}
			}
		})
	}
}

// setRefuser is a VersionedStore whose Set fails: a fill with fillCreates
// must store every session with the manager's create instead.
type setRefuser struct {
	*memstore.Store
}

func (setRefuser) Set(context.Context, string, []byte, time.Time) error {
	return errors.New("Set called: the fill should create")
}

// A store with fillCreates is filled as the manager stores a new session in
// a VersionedStore, CompareAndSwap from no version (mongostore's insert,
// which FerretDB checks against its _id index), not with Set (an upsert,
// which FerretDB v1 runs as a scan of the whole collection, so that a fill
// of n sessions took time in n²); each session read back is the fill's.
func TestScaleFillCreatesWhereTheStoreSaysSo(t *testing.T) {
	mem := memstore.New(memstore.WithSweepInterval(0))
	defer mem.Close()
	st := setRefuser{mem}
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = newScaleID()
	}
	doc := scaleDocument(t, time.Now())
	fill(t, st, scaleStore{name: "creates", fillCreates: true}, ids, doc, func() time.Time { return time.Now().Add(scaleLifetime) })
	for _, id := range ids {
		got, found, err := st.Get(t.Context(), id)
		if err != nil || !found || !bytes.Equal(got, doc) {
			t.Fatalf("session %.8s… after the fill: found %v, err %v, %s", id, found, err, got)
		}
	}
}

// deadlineRecorder is a Store that remembers the deadline of each Get's
// context.
type deadlineRecorder struct {
	session.Store
	mu        sync.Mutex
	deadlines []time.Time
}

func (r *deadlineRecorder) Get(ctx context.Context, id string) ([]byte, bool, error) {
	dl, _ := ctx.Deadline()
	r.mu.Lock()
	r.deadlines = append(r.deadlines, dl)
	r.mu.Unlock()
	return r.Store.Get(ctx, id)
}

// The measured requests give the store well over the default StoreTimeout:
// a save on FerretDB at 100,000 sessions took longer than 5 s on a loaded
// machine, and failed the request, and so the whole run.
func TestScaleRequestsGiveTheStoreMoreThanTheDefaultTimeout(t *testing.T) {
	mem := memstore.New(memstore.WithSweepInterval(0))
	defer mem.Close()
	st := &deadlineRecorder{Store: mem}
	id := newScaleID()
	if err := st.Set(t.Context(), id, scaleDocument(t, time.Now()), time.Now().Add(scaleLifetime)); err != nil {
		t.Fatal(err)
	}
	read, _ := scaleHandlers(t, st)
	start := time.Now()
	serveScale(t, "read", read, id)
	if len(st.deadlines) == 0 {
		t.Fatal("the read did not load the session")
	}
	for _, dl := range st.deadlines {
		if !dl.IsZero() && dl.Sub(start) < 2*session.DefaultStoreTimeout {
			t.Fatalf("the store's Get had %v to answer, less than twice the default StoreTimeout (%v)", dl.Sub(start), session.DefaultStoreTimeout)
		}
	}
}
