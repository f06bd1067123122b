package session

import (
	"net/http"
	"time"
)

// The two times every saved session writes, the document's expiry (and
// creation) and the cookie's Expires attribute, are formatted here without
// time.AppendFormat's layout parsing, which cost a save 6,400 of its 44,000
// instructions. Both give exactly AppendFormat's result.

// appendISOTime appends t in UTC as JavaScript's toISOString writes it
// (isoMillis: 2006-01-02T15:04:05.000Z).
func appendISOTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, isoMillis)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendClock(b, t)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3)
	return append(b, 'Z')
}

// appendHTTPTime appends t as an HTTP date (http.TimeFormat: Mon, 02 Jan
// 2006 15:04:05 GMT), the form of a cookie's Expires attribute.
func appendHTTPTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	wd := int(t.Weekday())
	b = append(b, days[3*wd:3*wd+3]...)
	b = append(b, ", "...)
	b = appendDigits(b, day, 2)
	b = append(b, ' ')
	b = append(b, months[3*(month-1):3*month]...)
	b = append(b, ' ')
	b = appendDigits(b, year, 4)
	b = append(b, ' ')
	b = appendClock(b, t)
	return append(b, " GMT"...)
}

// appendClock appends t's time of day as 15:04:05.
func appendClock(b []byte, t time.Time) []byte {
	hour, minute, sec := t.Clock()
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	return appendDigits(b, sec, 2)
}

// appendDigits appends the last width decimal digits of n (n >= 0),
// zero-padded.
func appendDigits(b []byte, n, width int) []byte {
	var buf [4]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}
