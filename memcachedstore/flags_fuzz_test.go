package memcachedstore

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// FuzzKindAtAgreesWithTheFlagsLayout checks kindAt, which reads the flags of
// any item found under a session's key (this store's, connect-memcached's,
// an earlier version's, or another program's), against the layout the
// package states, computed in exact arithmetic: flags 0 and 2 are a plain
// session, 4 and 8 no session, and any other flags an exact expiry in
// quarter seconds since legacyEpoch, a session only while more than
// legacyMargin away. now is legacyEpoch plus offset nanoseconds.
func FuzzKindAtAgreesWithTheFlagsLayout(f *testing.F) {
	quarter := int64(legacyUnit)
	f.Add(uint32(0), int64(0))
	f.Add(uint32(2), int64(-1))
	f.Add(uint32(4), int64(1<<62))
	f.Add(uint32(8), int64(0))
	f.Add(uint32(5), int64(0))              // 1.25 s after the epoch, 1.25 s before it
	f.Add(uint32(5), int64(quarter))        // 1 s before: gone
	f.Add(uint32(5), int64(quarter-1))      // just over 1 s before: legacy
	f.Add(uint32(math.MaxUint32), int64(0)) // 34 years on
	f.Add(uint32(math.MaxUint32), int64(math.MaxUint32)*quarter-int64(time.Second)-1)
	f.Add(uint32(12), int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, flags uint32, offset int64) {
		now := legacyEpoch.Add(time.Duration(offset))
		var want itemKind
		switch flags {
		case 0, flagJSON:
			want = plain
		case flagBinary, flagNumeric:
			want = gone
		default:
			// legacy while offset + legacyMargin < flags * legacyUnit
			left := new(big.Int).Mul(big.NewInt(int64(flags)), big.NewInt(int64(legacyUnit)))
			left.Sub(left, big.NewInt(offset))
			if left.Cmp(big.NewInt(int64(legacyMargin))) > 0 {
				want = legacy
			} else {
				want = gone
			}
		}
		if got := kindAt(flags, now); got != want {
			t.Fatalf("kindAt(%d, epoch%+v) = %d, want %d", flags, time.Duration(offset), got, want)
		}
	})
}

// FuzzVersionReadsBackAsWritten checks that parseVersion, which reads the
// version a caller hands back to CompareAndSwap and TouchVersion, gives
// back the CAS id and flags of every version the store makes, and accepts
// nothing else than a decimal CAS id, a dot and decimal flags within their
// ranges (a version of another store, or one made up, is no version: the
// caller's write is refused or becomes a plain touch).
func FuzzVersionReadsBackAsWritten(f *testing.F) {
	f.Add(uint64(1), uint32(2), "1.2")
	f.Add(uint64(math.MaxUint64), uint32(math.MaxUint32), "18446744073709551616.1")
	f.Add(uint64(0), uint32(0), "1.4294967296")
	f.Add(uint64(7), uint32(123456), "+1.2")
	f.Add(uint64(7), uint32(123456), "1.2.3")
	f.Add(uint64(7), uint32(123456), ".")
	f.Add(uint64(7), uint32(123456), "0x1.2")
	f.Add(uint64(7), uint32(123456), "1_0.2")
	f.Add(uint64(7), uint32(123456), "1.0x2")
	f.Fuzz(func(t *testing.T, cas uint64, flags uint32, v string) {
		made := version(&memcache.Item{CasID: cas, Flags: flags})
		if c, fl, ok := parseVersion(made); !ok || c != cas || fl != flags {
			t.Fatalf("parseVersion(%q) = %d, %d, %v; want %d, %d, true", made, c, fl, ok, cas, flags)
		}

		c, fl, ok := parseVersion(v)
		casText, flagsText, dot := strings.Cut(v, ".")
		wantCAS, casOK := decimal(casText, math.MaxUint64)
		wantFlags, flagsOK := decimal(flagsText, math.MaxUint32)
		if want := dot && casOK && flagsOK; ok != want {
			t.Fatalf("parseVersion(%q) = %d, %d, %v; want ok %v", v, c, fl, ok, want)
		}
		if ok && (c != wantCAS || uint64(fl) != wantFlags) {
			t.Fatalf("parseVersion(%q) = %d, %d; want %d, %d", v, c, fl, wantCAS, wantFlags)
		}
	})
}

// decimal reads s as a number of ASCII digits no greater than limit.
func decimal(s string, limit uint64) (uint64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || !n.IsUint64() || n.Uint64() > limit {
		return 0, false
	}
	return n.Uint64(), true
}
