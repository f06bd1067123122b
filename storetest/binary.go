package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// KeepsOnlyJSON declares that the store can keep only JSON text, as
// pgstore's json column (connect-pg-simple's table) can, and refuses other
// bytes with an error wrapping refusal. The suite then requires Set and
// CompareAndSwap of a value that is not a JSON document in UTF-8 (the
// bytes of a binary Codec: gob, msgpack, protobuf) to fail with an error
// that wraps refusal (errors.Is), write nothing, and keep the session
// stored before. Without it, the suite requires every value to come back byte for
// byte, binary ones included, as a Codec may write any bytes. Either way,
// JSON text with escapes (\u0000, a lone surrogate) comes back byte for
// byte. A nil refusal panics: the suite would take the store for one that
// keeps any bytes.
func KeepsOnlyJSON(refusal error) Option {
	if refusal == nil {
		panic("storetest: KeepsOnlyJSON needs the error the store refuses a value that is not JSON text with")
	}
	return func(c *config) { c.jsonOnly = refusal }
}

// binaryValues are values a binary Codec can write, none of them JSON: a
// store that keeps bytes keeps them byte for byte.
func binaryValues() map[string][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return map[string][]byte{
		"FFFE":             []byte("\xff\xfeabc"),
		"NUL":              []byte("\x00"),
		"NULInside":        []byte("{\"a\":\"b\x00c\"}"),
		"LoneContinuation": []byte("\x80"),
		"TruncatedRune":    []byte("caf\xc3"),
		"Surrogate":        []byte("\xed\xa0\x80"), // U+D800 in UTF-8, which UTF-8 excludes
		"EveryByte":        all,
		"HighAndLowBytes":  bytes.Repeat([]byte{0xff, 0x00, 0x80, 0x7f}, 64),
		"UTF8ButNotJSON":   []byte("gob\x01\x02 héllo"),
	}
}

// escapedJSONValues are JSON documents in UTF-8 that every store keeps byte
// for byte, whatever it can keep: escapes that a JSON parser would turn
// into what a text type refuses (\u0000, lone surrogates), and text.
func escapedJSONValues() map[string][]byte {
	return map[string][]byte{
		"EscapedNUL":       []byte(`{"a":"b\u0000c"}`),
		"LoneSurrogates":   []byte(`{"hi":"\ud800","lo":"\udc00x","pair":"\ud83d\ude00"}`),
		"ControlEscapes":   []byte(`{"c":"\u0001\u001f\b\f\n\r\t\"\\\/"}`),
		"RawNonASCII":      []byte("{\"t\":\"\u007f\u0080\u2028\u2029\ufeff\uffff\U0010ffff 🍪\"}"),
		"SpacesAroundJSON": []byte(" \n{ \"a\" : [ 1 , 2.50 , 1e3 ] }\t\n"),
	}
}

// testBinaryValues pins that values come back byte for byte, in every
// read (Get, GetVersion, GetAndTouch, UserSessions) after every write (Set,
// CompareAndSwap, Touch, TouchVersion) — or, for a KeepsOnlyJSON store,
// that a binary value is refused with its error and loses nothing.
func testBinaryValues(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	t.Run("EscapedJSON", func(t *testing.T) {
		for name, data := range escapedJSONValues() {
			t.Run(name, func(t *testing.T) { roundTrips(t, st, data) })
		}
	})
	if cfg.jsonOnly != nil {
		for name, data := range binaryValues() {
			t.Run("Refused"+name, func(t *testing.T) { refused(t, st, data, cfg.jsonOnly) })
		}
		return
	}
	for name, data := range binaryValues() {
		t.Run(name, func(t *testing.T) { roundTrips(t, st, data) })
	}
}

// roundTrips writes data with every write st has, and reads it back with
// every read.
func roundTrips(t *testing.T, st session.Store, data []byte) {
	t.Helper()
	id := NewID()
	mustSet(t, st, id, data, later())
	mustGet(t, st, id, data)
	if tc, ok := st.(session.Toucher); ok {
		if found, err := tc.Touch(ctx(t), id, later()); err != nil || !found {
			t.Fatalf("Touch: found %v, %v", found, err)
		}
		mustGet(t, st, id, data)
	}
	if gt, ok := st.(session.GetToucher); ok {
		got, _, found, err := gt.GetAndTouch(ctx(t), id, later())
		if err != nil || !found || !bytes.Equal(got, data) {
			t.Fatalf("GetAndTouch = %s, found %v, %v; want %s", short(got), found, err, short(data))
		}
	}
	if ix, ok := st.(session.UserIndex); ok {
		mustIndex(t, ix, "binary", id, time.Now(), later())
		if e := userSessions(t, ix, "binary")[id]; !bytes.Equal(e.data, data) {
			t.Fatalf("UserSessions data = %s, want %s", short(e.data), short(data))
		}
	}
	vs, ok := st.(session.VersionedStore)
	if !ok {
		return
	}
	got, v := getVersion(t, vs, id)
	if !bytes.Equal(got, data) {
		t.Fatalf("GetVersion = %s, want %s", short(got), short(data))
	}
	if vt, ok := st.(session.VersionToucher); ok {
		if found, err := vt.TouchVersion(ctx(t), id, v, got, later()); err != nil || !found {
			t.Fatalf("TouchVersion: found %v, %v", found, err)
		}
		mustGet(t, st, id, data)
		_, v = getVersion(t, vs, id)
	}
	// A swap from a JSON document to the value and back, and a create.
	other := Document(100)
	if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, other, later()); err != nil || !swapped {
		t.Fatalf("CompareAndSwap to a document: swapped %v, %v", swapped, err)
	}
	_, v = getVersion(t, vs, id)
	if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, data, later()); err != nil || !swapped {
		t.Fatalf("CompareAndSwap to the value: swapped %v, %v", swapped, err)
	}
	mustGet(t, st, id, data)
	_, v = getVersion(t, vs, id)
	if _, swapped, err := vs.CompareAndSwap(ctx(t), id, v, data, later()); err != nil || !swapped {
		t.Fatalf("CompareAndSwap from the value's version: swapped %v, %v", swapped, err)
	}
	mustGet(t, st, id, data)
	created := NewID()
	if _, swapped, err := vs.CompareAndSwap(ctx(t), created, "", data, later()); err != nil || !swapped {
		t.Fatalf("CompareAndSwap create: swapped %v, %v", swapped, err)
	}
	mustGet(t, st, created, data)
}

// refused checks that every write of data to st fails with an error
// wrapping refusal, and changes nothing.
func refused(t *testing.T, st session.Store, data []byte, refusal error) {
	t.Helper()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, refusal) {
			t.Fatalf("%s of %s: %v, want an error wrapping %q", op, short(data), err, refusal)
		}
	}
	id, kept := NewID(), Document(100)
	mustSet(t, st, id, kept, later())
	check("Set over a stored session", st.Set(ctx(t), id, data, later()))
	mustGet(t, st, id, kept)
	missing := NewID()
	check("Set", st.Set(ctx(t), missing, data, later()))
	mustBeMissing(t, st, missing)
	vs, ok := st.(session.VersionedStore)
	if !ok {
		return
	}
	_, v := getVersion(t, vs, id)
	_, swapped, err := vs.CompareAndSwap(ctx(t), id, v, data, later())
	check("CompareAndSwap", err)
	if swapped {
		t.Fatalf("CompareAndSwap of %s reported swapped with its error", short(data))
	}
	mustGet(t, st, id, kept)
	if _, cur := getVersion(t, vs, id); cur != v {
		t.Fatalf("a refused CompareAndSwap changed the version from %q to %q", v, cur)
	}
	_, swapped, err = vs.CompareAndSwap(ctx(t), missing, "", data, later())
	check("CompareAndSwap create", err)
	if swapped {
		t.Fatalf("CompareAndSwap create of %s reported swapped with its error", short(data))
	}
	mustBeMissing(t, st, missing)
}

// binaryCodec is a Codec whose documents are not UTF-8, as a gob, msgpack
// or protobuf one's: the JSON document behind a 0xff byte, with a NUL.
type binaryCodec struct{}

func (binaryCodec) Encode(d *session.Document) ([]byte, error) {
	j, err := session.JSONCodec{}.Encode(d)
	return append([]byte{0xff, 0x00}, j...), err
}

func (binaryCodec) Decode(b []byte) (*session.Document, error) {
	j, ok := bytes.CutPrefix(b, []byte{0xff, 0x00})
	if !ok {
		return nil, fmt.Errorf("storetest: not a binaryCodec document: %s", short(b))
	}
	return session.JSONCodec{}.Decode(j)
}

// testBinaryCodecThroughManager runs the manager with a binary Codec on the
// store: a session a request sets is read by the next, or, on a
// KeepsOnlyJSON store, the save fails with an error wrapping the store's
// refusal (the ErrorHandler answers) and no session is stored.
func testBinaryCodecThroughManager(t *testing.T, newStore func(*testing.T) session.Store, cfg *config) {
	st := newStore(t)
	var (
		mu   sync.Mutex
		errs []error
	)
	m, err := session.New(session.Options{
		Secrets: []string{"storetest secret"},
		Store:   st,
		Codec:   binaryCodec{},
		Logger:  testLogger(t),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			http.Error(w, err.Error(), http.StatusInternalServerError)
		},
	})
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			return // the ErrorHandler answered
		}
		if v := r.FormValue("v"); v != "" {
			s.Set("k", v)
		}
		fmt.Fprintf(w, "%v", s.Get("k"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?v=binary", nil))
	if cfg.jsonOnly != nil {
		mu.Lock()
		defer mu.Unlock()
		if rec.Code != http.StatusInternalServerError || len(errs) != 1 || !errors.Is(errs[0], cfg.jsonOnly) {
			t.Fatalf("a save with a binary Codec on a KeepsOnlyJSON store: status %d, errors %v; want 500 and an error wrapping %q", rec.Code, errs, cfg.jsonOnly)
		}
		if c := rec.Result().Cookies(); len(c) != 0 {
			t.Fatalf("the failed save sent a cookie: %v", c)
		}
		if ls, ok := st.(session.Lister); ok {
			if n, err := ls.Count(ctx(t)); err != nil || n != 0 {
				t.Fatalf("after the failed save the store holds %d sessions (%v), want none", n, err)
			}
		}
		return
	}
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cookies) == 0 {
		t.Fatalf("the first request with a binary Codec: status %d, %d cookies: %s", rec.Code, len(cookies), rec.Body)
	}
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if body, _ := io.ReadAll(rec.Body); rec.Code != http.StatusOK || string(body) != "binary" {
		t.Fatalf("the next request read %q (status %d), want the value the first one set, %q", body, rec.Code, "binary")
	}
}
