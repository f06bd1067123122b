package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// storedExpiry returns the expiry in the header of id's stored value.
func storedExpiry(t *testing.T, s *Store, id string) time.Time {
	t.Helper()
	v := raw(t, s, id)
	if len(v) < headerLen {
		t.Fatalf("%q: stored value %q, want a record", id, v)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v[0:8])))
}

func TestGetAndTouchReadsTheSessionAndMovesItsExpiryKeepingItsVersion(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	mustSet(t, s, "a", "x", c.Now().Add(time.Minute))
	_, v, _, _ := s.GetVersion(ctx, "a")
	before := commits(t, s)
	exp := c.Now().Add(time.Hour)
	data, gv, found, err := s.GetAndTouch(ctx, "a", exp)
	if err != nil || !found || string(data) != "x" {
		t.Fatalf("GetAndTouch = %q, found %v, %v; want the session", data, found, err)
	}
	if gv != v {
		t.Errorf("GetAndTouch's version %q, GetVersion's %q: a touch keeps the version", gv, v)
	}
	if n := commits(t, s) - before; n != 1 {
		t.Errorf("GetAndTouch committed %d transactions, want 1", n)
	}
	if got := storedExpiry(t, s, "a"); !got.Equal(exp) {
		t.Errorf("stored expiry %v, want %v", got, exp)
	}
	// The caller owns the bytes: changing them changes nothing stored.
	data[0] = 'y'
	c.Advance(30 * time.Minute)
	wantData(t, s, "a", "x")
	if _, swapped, err := s.CompareAndSwap(ctx, "a", gv, []byte("z"), exp); err != nil || !swapped {
		t.Fatalf("CompareAndSwap from GetAndTouch's version: swapped %v, %v", swapped, err)
	}
	// An empty session is found, with empty bytes.
	mustSet(t, s, "empty", "", exp)
	if data, _, found, err := s.GetAndTouch(ctx, "empty", exp); err != nil || !found || data == nil || len(data) != 0 {
		t.Fatalf("GetAndTouch(empty) = %q (nil %v), found %v, %v; want empty bytes", data, data == nil, found, err)
	}
}

// A missing, expired or corrupt session is not found, and GetAndTouch
// writes nothing: no record, no revival, no commit.
func TestGetAndTouchOfAMissingExpiredOrCorruptSessionIsNotFoundAndWritesNothing(t *testing.T) {
	var logs bytes.Buffer
	s, c := openTest(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	mustSet(t, s, "old", "x", c.Now().Add(time.Second))
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(s.bucket).Put([]byte("bad"), []byte("short")) }); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	oldRaw, badRaw := raw(t, s, "old"), raw(t, s, "bad")
	before := commits(t, s)
	for _, id := range []string{"missing", "old", "bad"} {
		if data, v, found, err := s.GetAndTouch(ctx, id, c.Now().Add(time.Hour)); err != nil || found || data != nil || v != "" {
			t.Errorf("GetAndTouch(%q) = %q, %q, found %v, %v; want not found", id, data, v, found, err)
		}
	}
	if n := commits(t, s) - before; n != 0 {
		t.Errorf("GetAndTouch of sessions it did not find committed %d transactions, want 0", n)
	}
	if v := raw(t, s, "missing"); v != nil {
		t.Errorf("GetAndTouch created a record: %q", v)
	}
	if !bytes.Equal(raw(t, s, "old"), oldRaw) || !bytes.Equal(raw(t, s, "bad"), badRaw) {
		t.Error("GetAndTouch changed an expired or a corrupt record")
	}
	wantNotFound(t, s, "old")
	if !strings.Contains(logs.String(), "corrupt record") {
		t.Errorf("the corrupt record was not logged, as Get logs it: %q", logs.String())
	}
}

func TestGetAndTouchWithPastExpiresDeletesAndIsNotFound(t *testing.T) {
	s, c := openTest(t)
	mustSet(t, s, "a", "x", c.Now().Add(time.Hour))
	if data, _, found, err := s.GetAndTouch(context.Background(), "a", c.Now().Add(-time.Second)); err != nil || found || data != nil {
		t.Fatalf("GetAndTouch with a past expiry = %q, found %v, %v; want not found", data, found, err)
	}
	if v := raw(t, s, "a"); v != nil {
		t.Fatalf("record still stored: %q", v)
	}
}
