package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkit/session/internal/testclock"
)

// FuzzStoredBytesReadAsTheirHeaderSays puts any bytes in the file as a
// session's value and as its user index entry (what a hand edit, another
// program or a damaged file may hold) and checks each method that reads
// them against the layout the package doc gives: a value is a 16-byte
// header (expiry in Unix nanoseconds, version, big-endian) and the data,
// and anything shorter is no session; an index entry is the expiry and the
// last use, and an entry of another length is still listed, with the
// times that can be read from it. Nothing fails or panics, the store's own
// writes and sweep work around such bytes, and an entry the store cannot
// date is pruned only once its session is gone. With relative, the first 8
// bytes of each (when there are 8) count from the store's now, so that the
// fuzzer reaches the times around it.
func FuzzStoredBytesReadAsTheirHeaderSays(f *testing.F) {
	header := func(off int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(off)) }
	entry := func(exp, used int64) []byte {
		return binary.BigEndian.AppendUint64(header(exp), uint64(used))
	}
	hour := int64(time.Hour)
	f.Add(entry(hour, -hour), append(entry(hour, 7), `{"a":1}`...), true)
	f.Add(entry(-hour, 0), append(entry(-1, 7), `{}`...), true)
	f.Add(entry(-2*hour, 0), append(entry(hour, 7), `{}`...), true) // past its deadline
	f.Add(header(hour), entry(hour, 1), true)                       // an 8-byte entry, empty data
	f.Add([]byte("abc"), []byte("short"), false)                    // an entry without expiry, a corrupt value
	f.Add([]byte("abc"), append(entry(hour, 1), 'x'), true)         // an entry without expiry, a live session
	f.Add(append(entry(hour, 0), 0), []byte{}, true)                // 17 bytes: an expiry, no last use
	f.Add(entry(0, zeroUsed), entry(0, 0), false)
	f.Add(entry(-1<<63, 1<<63-1), entry(1<<63-1, 1<<63-1), false)

	s, clock := openFuzzStore(f)
	n := 0
	f.Fuzz(func(t *testing.T, entryBytes, value []byte, relative bool) {
		if len(entryBytes) > 24 || len(value) > headerLen+32 {
			// Past the header the bytes are data, read as they are. A long
			// input that found new coverage would take Go's minimizer up to
			// a minute of these slow runs to shrink.
			t.Skip("only the header is read")
		}
		n++
		user, id, other := fmt.Sprint("user", n), fmt.Sprint("sess", n), fmt.Sprint("other", n)
		ctx := t.Context()
		now := clock.Now()
		entryBytes, value = bytes.Clone(entryBytes), bytes.Clone(value)
		if relative {
			for _, b := range [][]byte{entryBytes, value} {
				if len(b) >= 8 {
					binary.BigEndian.PutUint64(b, binary.BigEndian.Uint64(b)+uint64(now.UnixNano()))
				}
			}
		}
		err := s.db.Update(func(tx *bbolt.Tx) error {
			if err := tx.Bucket(s.bucket).Put([]byte(id), value); err != nil {
				return err
			}
			ub, err := tx.CreateBucketIfNotExists(s.usersBucket())
			if err != nil {
				return err
			}
			u, err := ub.CreateBucket([]byte(user))
			if err != nil {
				return err
			}
			return u.Put([]byte(id), entryBytes)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.Destroy(context.Background(), id)
			s.UnindexUserSession(context.Background(), user, id)
			s.UnindexUserSession(context.Background(), user, other)
		})

		// The session: a header, then the data.
		live := len(value) >= headerLen && int64(binary.BigEndian.Uint64(value)) > now.UnixNano()
		data, version, found, err := s.GetVersion(ctx, id)
		if err != nil {
			t.Fatalf("GetVersion of value %x: %v", value, err)
		}
		if found != live {
			t.Fatalf("GetVersion of value %x at %d: found %v, want %v", value, now.UnixNano(), found, live)
		}
		if live {
			if !bytes.Equal(data, value[headerLen:]) || version != fmt.Sprint(binary.BigEndian.Uint64(value[8:])) {
				t.Fatalf("GetVersion of value %x = %q, version %s", value, data, version)
			}
		}

		// The entry: listed unless its expiry is readable and more than
		// IndexGrace past.
		wantEntry := func(when string) {
			t.Helper()
			var ids []string
			err := s.UserSessions(ctx, user, func(gotID string, used, expires time.Time, got []byte) {
				ids = append(ids, gotID)
				if gotID != id {
					return
				}
				var wantUsed, wantExpires time.Time
				if len(entryBytes) >= 8 {
					wantExpires = time.Unix(0, int64(binary.BigEndian.Uint64(entryBytes)))
				}
				if len(entryBytes) == 16 {
					if u := int64(binary.BigEndian.Uint64(entryBytes[8:])); u != zeroUsed {
						wantUsed = time.Unix(0, u)
					}
				}
				if !used.Equal(wantUsed) || !expires.Equal(wantExpires) {
					t.Fatalf("%s: UserSessions of entry %x gives used %v, expires %v; want %v, %v", when, entryBytes, used, expires, wantUsed, wantExpires)
				}
				if wantData := map[bool][]byte{true: data}[live]; !bytes.Equal(got, wantData) || (got == nil) != !live {
					t.Fatalf("%s: UserSessions of value %x gives data %q, want %q", when, value, got, wantData)
				}
			})
			if err != nil {
				t.Fatalf("%s: UserSessions of entry %x: %v", when, entryBytes, err)
			}
			dated := len(entryBytes) >= 8
			listed := !dated || now.UnixNano() <= deadline(int64(binary.BigEndian.Uint64(entryBytes)))
			if when != "before" && !dated && !live {
				listed = false // pruned: its session is gone
			}
			if got := slices.Contains(ids, id); got != listed {
				t.Fatalf("%s: UserSessions of entry %x at %d lists %v, want the entry listed: %v", when, entryBytes, now.UnixNano(), ids, listed)
			}
		}
		wantEntry("before")
		if err := s.IndexUserSession(ctx, user, other, now, now.Add(time.Hour)); err != nil {
			t.Fatalf("IndexUserSession beside entry %x: %v", entryBytes, err)
		}
		wantEntry("after an index write")
		if _, err := s.PurgeExpired(ctx); err != nil {
			t.Fatalf("PurgeExpired over value %x and entry %x: %v", value, entryBytes, err)
		}
		wantEntry("after a sweep")
	})
}

// openFuzzStore opens a store on a fresh file, with a fake clock, no
// background sweeper, and no fsync (the file is thrown away).
func openFuzzStore(f *testing.F) (*Store, *testclock.Clock) {
	c := newClock()
	s, err := Open(filepath.Join(f.TempDir(), "sessions.db"), withClock(c), WithSweepInterval(0), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	s.db.NoSync = true
	f.Cleanup(func() { s.Close() })
	return s, c
}
