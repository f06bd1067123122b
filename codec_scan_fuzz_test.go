package session

import (
	"testing"
)

// refScanString is scanString byte by byte, as the JSON grammar reads a
// string: the index past it (-1 if invalid), and whether it is ASCII
// without escapes.
func refScanString(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return -1, false
	}
	plain := true
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, plain
		case c < 0x20:
			return -1, false
		case c >= 0x80:
			plain = false
		case c == '\\':
			plain = false
			if i+1 >= len(data) {
				return -1, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(data) {
					return -1, false
				}
				for _, h := range data[i+2 : i+6] {
					if _, ok := unhex(h); !ok {
						return -1, false
					}
				}
				i += 5
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

// scanString, which reads eight bytes at a time, finds the end and the
// plainness of a string where a byte-by-byte reading does, from any start.
func FuzzScanStringMatchesByteByByte(f *testing.F) {
	for _, s := range []string{`"abc"`, `"abcdefghijklmnop"`, "\"caf\xc3\xa9 cr\xc3\xa8me au lait\"", `"a\"b\\c\u00e9d"`, "\"\xff\xff\xff\xff\xff\xff\xff\xff\x01\"",
		"\"1234567\xe9\"", "\"12345678\xe9\\\"\"", `"\u12`, `"abc`, `"abcdefgh\`, "\"\x7f\x80\"", `"2026-11-22T10:00:00.000Z"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i := range data {
			end, plain := scanString(data, i)
			wantEnd, wantPlain := refScanString(data, i)
			if end != wantEnd || plain != wantPlain {
				t.Fatalf("scanString(%q, %d) = %d, %v; byte by byte %d, %v", data, i, end, plain, wantEnd, wantPlain)
			}
		}
	})
}

// A stored time read in place (isoTimeAt) is the value, of the length and
// instant, that scanning it as a JSON value and parsing that gives, so
// that a document decodes as it did when every time was scanned first.
func FuzzStoredTimeReadInPlaceAsScanned(f *testing.F) {
	for _, s := range []string{`"2026-11-22T10:00:00.000Z"`, `"2026-11-22T10:00:00.000Z`, `"2026-02-31T23:59:59.999Z"}`, `"+010000-01-01T00:00:00.000Z"`,
		`"-000001-01-01T00:00:00.000Z"`, `"2026-11-22T10:00:00.000Z"2026-11-22T10:00:00.000Z"`, `"2026-11-22T10:00:00\u002e000Z"`, `"0000-01-01T00:00:00.000Z"`,
		`"2026-13-22T10:00:00.000Z"`, `"2026-11-22T24:00:00.000Z"`, `"2026-11-22T10:00:60.000Z"`, `"9999-12-31T23:59:59.999Z"`, `"2026-11-22 10:00:00.000Z"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i := range data {
			got, end, ok := isoTimeAt(data, i)
			if !ok {
				continue
			}
			raw, err := rawValueAt(data, i, 1)
			if err != nil || i+len(raw) != end {
				t.Fatalf("isoTimeAt(%q, %d) read a time ending at %d; scanned: %q, %v", data, i, end, raw, err)
			}
			if want, ok := parseISOTime(raw); !ok || !got.Equal(want) || got.Location() != want.Location() {
				t.Fatalf("isoTimeAt(%q, %d) = %v; parseISOTime of the scanned value %v, %v", data, i, got, want, ok)
			}
		}
	})
}
