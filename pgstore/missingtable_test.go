package pgstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionkit/session/pgstore"
	"github.com/sessionkit/session/storetest"
)

// TestMissingSessionTableErrorSaysHowToCreateIt opens a store without
// WithCreateTable on a database that has no session table, as a first try
// of pgstore.New(pool) does: every operation's error names the table and
// says how to create it, where it was PostgreSQL's bare "relation does not
// exist" (the user index table's errors already said so).
func TestMissingSessionTableErrorSaysHowToCreateIt(t *testing.T) {
	pool := newPool(t)
	st, err := pgstore.New(pool, pgstore.WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, id, later := t.Context(), storetest.NewID(), time.Now().Add(time.Hour)
	data := []byte(`{"cookie":{}}`)
	for name, op := range map[string]func() error{
		"Get":        func() error { _, _, err := st.Get(ctx, id); return err },
		"GetVersion": func() error { _, _, _, err := st.GetVersion(ctx, id); return err },
		"GetAndTouch": func() error {
			_, _, _, err := st.GetAndTouch(ctx, id, later)
			return err
		},
		"Set":     func() error { return st.Set(ctx, id, data, later) },
		"Touch":   func() error { _, err := st.Touch(ctx, id, later); return err },
		"Destroy": func() error { return st.Destroy(ctx, id) },
		"CompareAndSwap create": func() error {
			_, _, err := st.CompareAndSwap(ctx, id, "", data, later)
			return err
		},
		"CompareAndSwap": func() error {
			_, _, err := st.CompareAndSwap(ctx, id, "1", data, later)
			return err
		},
		"IDs":          func() error { _, err := st.IDs(ctx); return err },
		"Count":        func() error { _, err := st.Count(ctx); return err },
		"Clear":        func() error { return st.Clear(ctx) },
		"PurgeExpired": func() error { _, err := st.PurgeExpired(ctx); return err },
	} {
		err := op()
		if err == nil || !strings.Contains(err.Error(), `no session table "session"`) || !strings.Contains(err.Error(), "WithCreateTable") {
			t.Errorf("%s without the session table: %v, want an error naming the table and WithCreateTable", name, err)
		}
		if pgErr := (*pgconn.PgError)(nil); err != nil && (!errors.As(err, &pgErr) || pgErr.Code != "42P01") {
			t.Errorf("%s: %v does not wrap PostgreSQL's undefined_table", name, err)
		}
	}
}
