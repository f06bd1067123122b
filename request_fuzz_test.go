package session

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzRequest drives the whole request path with hostile input: a Cookie
// header, the stored document the cookie may point at, and a sequence of
// Session calls by the handler. Whatever the input, the request answers
// 200 or the ErrorHandler's 500, never panics, and whatever it leaves in
// the store is a document the codec reads back.
func FuzzRequest(f *testing.F) {
	valid := `{"cookie":{"originalMaxAge":60000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":3,"flash":{"info":["hi"]}}`
	f.Add("", []byte(valid), []byte{0, 1, 3})
	f.Add("signed", []byte(valid), []byte{0, 1, 2, 3, 4})
	f.Add("signed", []byte(`{"cookie":{},"a":`), []byte{1, 6, 1})
	f.Add("signed", []byte(`{"cookie":{"expires":"yesterday"}}`), []byte{8, 1, 7, 1})
	f.Add("sid=s%3Afuzz.bad; sid=s%3Afuzz.worse", []byte(valid), []byte{10, 1})
	f.Add("sid=%zz%", []byte(`null`), []byte{5, 9, 11, 12})
	f.Fuzz(func(t *testing.T, cookie string, stored []byte, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		m, st := newTestManager(t, Options{
			Cookie:           CookieOptions{MaxAge: time.Hour},
			MaxDocumentBytes: 4 << 10,
			Logger:           slog.New(slog.DiscardHandler),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				http.Error(w, "session error", http.StatusInternalServerError)
			},
		})
		const id = "fuzz"
		if err := st.Store.Set(t.Context(), id, stored, st.clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if cookie == "signed" {
			cookie = "sid=" + m.signer.cookieValue(id)
		}
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := From(r)
			for i, op := range ops {
				s = handlerCall(r, s, i, op%handlerCalls, op)
			}
			w.Write([]byte("ok"))
		}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d", rec.Code)
		}
		ids, err := st.Store.IDs(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, sid := range ids {
			data, found, err := st.Store.Get(t.Context(), sid)
			if err != nil || !found {
				continue
			}
			if sid == id && string(data) == string(stored) {
				continue // the fuzzer's own document, untouched
			}
			if _, err := (JSONCodec{}).Decode(data); err != nil {
				t.Fatalf("the request stored %q, which does not decode: %v", data, err)
			}
		}
	})
}

// handlerCalls is how many kinds of Session call handlerCall makes;
// unsetCall is the one that unsets the session.
const (
	unsetCall    = 12
	handlerCalls = 14
)

// fuzzUsers are the users handlerCall binds sessions to.
var fuzzUsers = [2]string{"ada", "grace"}

// handlerCall makes the Session call numbered call (below handlerCalls), as
// a handler would, on the key and max age that op picks; i is the call's
// place, the value a Set stores. It returns the session to go on with: nil
// after Unset, on which every call must be safe.
func handlerCall(r *http.Request, s *Session, i int, call, op byte) *Session {
	key := fmt.Sprintf("k%d", op%4)
	switch call {
	case 0:
		s.Get(key)
	case 1:
		s.Set(key, i)
	case 2:
		s.Delete(key)
	case 3:
		_ = s.Save(r.Context())
	case 4:
		s.Keys()
	case 5:
		s.Cookie().SetMaxAge(time.Duration(op) * time.Minute)
	case 6:
		_ = s.Regenerate(r.Context())
	case 7:
		_ = s.Destroy(r.Context())
	case 8:
		_ = s.Reload(r.Context())
	case 9:
		s.Touch()
	case 10:
		s.Flash("info", "x")
		s.Flashes("info")
	case 11:
		_, _ = GetAs[int](s, key)
	case unsetCall:
		s.Unset()
		return From(r)
	case 13:
		s.SetUser(fuzzUsers[op%2])
	}
	return s
}
