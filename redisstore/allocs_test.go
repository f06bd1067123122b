package redisstore_test

import (
	"testing"
	"time"
)

// version keeps the raw GETEX's copy of the value alive, as GetAndTouch's
// version is.
var version string

// Set, Touch and GetAndTouch cost what their go-redis command costs, and
// one allocation more, the key (prefix + id): sending them as commands
// go-redis must not resend, and sending them again, must cost nothing on
// a write that succeeds. They cost two more each (the command wrapped for
// go-redis in an interface of two words, and the check for a lost answer
// run on a write that had none), about a fifth of a Touch's.
func TestWritesAllocateAsTheirGoRedisCommandAndTheKey(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocations against a server")
	}
	ctx := t.Context()
	c := standalone(t)
	st := newStore(c)
	key, data := st.Prefix()+"id", []byte(`{"n":1}`)
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, "id", data, exp); err != nil {
		t.Fatal(err)
	}
	allocs := func(f func() error) float64 {
		t.Helper()
		var err error
		n := testing.AllocsPerRun(200, func() {
			if e := f(); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, w := range []struct {
		name       string
		store, raw func() error
	}{
		{"Set", func() error { return st.Set(ctx, "id", data, exp) },
			func() error { return c.Set(ctx, key, data, time.Hour).Err() }},
		{"Touch", func() error { _, err := st.Touch(ctx, "id", exp); return err },
			func() error { return c.PExpire(ctx, key, time.Hour).Err() }},
		{"GetAndTouch", func() error { _, _, _, err := st.GetAndTouch(ctx, "id", exp); return err },
			func() error {
				// As GetAndTouch answers: the value's bytes, and its version.
				b, err := c.GetEx(ctx, key, time.Hour).Bytes()
				version = string(b)
				return err
			}},
	} {
		store, raw := allocs(w.store), allocs(w.raw)
		if store > raw+1 {
			t.Errorf("%s: %v allocations; want at most %v, its go-redis command's %v and the key", w.name, store, raw+1, raw)
		}
	}
}
