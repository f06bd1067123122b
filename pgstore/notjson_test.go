package pgstore_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// prefixCodec is session.JSONCodec behind a prefix: with "\xff", the
// documents of a binary Codec (gob, msgpack, protobuf), which are not
// UTF-8; with "b64:", text that is not JSON.
type prefixCodec struct{ prefix string }

func (c prefixCodec) Encode(d *session.Document) ([]byte, error) {
	j, err := session.JSONCodec{}.Encode(d)
	return append([]byte(c.prefix), j...), err
}

func (c prefixCodec) Decode(b []byte) (*session.Document, error) {
	return session.JSONCodec{}.Decode(bytes.TrimPrefix(b, []byte(c.prefix)))
}

// A save with a Codec whose documents are not JSON text fails with an
// error that says why (the sess column is json, connect-pg-simple's
// table) and what to do, wrapping ErrNotJSON, and the request's
// ErrorHandler answers; the session stored before is kept.
func TestSaveOfADocumentThatIsNotJSONFailsWithAClearError(t *testing.T) {
	t.Parallel()
	st := newStore(t, newPool(t))
	for _, c := range []struct {
		prefix, cause string
	}{
		{"\xff", "byte 0xff at offset 0 is not UTF-8"},
		{"\x00", "a NUL byte at offset 0"},
		{"b64:", "invalid input syntax for type json"},
	} {
		var got error
		m, err := session.New(session.Options{
			Secrets: []string{"a secret of more than thirty-two bytes"},
			Store:   st,
			Codec:   prefixCodec{c.prefix},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				w.WriteHeader(http.StatusInternalServerError)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			session.From(r).Set("user", "ada")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusInternalServerError || len(rec.Result().Cookies()) != 0 {
			t.Errorf("codec %q: status %d, cookies %v; want 500 and no cookie", c.prefix, rec.Code, rec.Result().Cookies())
		}
		if !errors.Is(got, pgstore.ErrNotJSON) {
			t.Errorf("codec %q: the ErrorHandler got %v, want an error wrapping pgstore.ErrNotJSON", c.prefix, got)
			continue
		}
		for _, want := range []string{"not JSON text", "column is json", "connect-pg-simple", "needs a store that keeps any bytes", c.cause} {
			if !strings.Contains(got.Error(), want) {
				t.Errorf("codec %q: error %q does not say %q", c.prefix, got, want)
			}
		}
	}
	// The same through Set and CompareAndSwap of a stored session: an
	// error, and the session keeps its document.
	id, kept := storetest.NewID(), storetest.Document(100)
	if err := st.Set(t.Context(), id, kept, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	err := st.Set(t.Context(), id, []byte("not json"), time.Now().Add(time.Hour))
	var pgErr *pgconn.PgError
	if !errors.Is(err, pgstore.ErrNotJSON) || !errors.As(err, &pgErr) || pgErr.Code != "22P02" {
		t.Errorf("Set of text that is not JSON: %v, want an error wrapping ErrNotJSON and PostgreSQL's 22P02", err)
	}
	_, v, _, err := st.GetVersion(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, swapped, err := st.CompareAndSwap(t.Context(), id, v, []byte("\xff\xfe"), time.Now().Add(time.Hour)); swapped || !errors.Is(err, pgstore.ErrNotJSON) {
		t.Errorf("CompareAndSwap of bytes that are not UTF-8: swapped %v, %v; want an error wrapping ErrNotJSON", swapped, err)
	}
	if got, _, err := st.Get(t.Context(), id); err != nil || !bytes.Equal(got, kept) {
		t.Errorf("after the refused writes Get = %q, %v; want the document stored before", got, err)
	}
}
