package session

import (
	"net/http"
	"strconv"
	"time"
)

// The two times every saved session writes, the document's expiry (and
// creation) and the cookie's Expires attribute, are formatted here without
// time.AppendFormat's layout parsing, which cost a save 6,400 of its 44,000
// instructions. Both give exactly AppendFormat's result. The calendar
// arithmetic both ways (civilOf for these, daysSinceEpoch for parseISOTime)
// lives here too.

// appendISOTime appends t in UTC as JavaScript's toISOString writes it
// (isoMillis: 2006-01-02T15:04:05.000Z).
func appendISOTime(b []byte, t time.Time) []byte {
	c, ok := civilOf(t)
	if !ok {
		return appendISOExpanded(b, t)
	}
	var d [len(isoMillis)]byte
	put4(d[0:4], c.year)
	d[4] = '-'
	put2(d[5:7], c.month)
	d[7] = '-'
	put2(d[8:10], c.day)
	d[10] = 'T'
	c.putClock(d[11:19])
	d[19] = '.'
	ms := t.Nanosecond() / int(time.Millisecond)
	d[20] = byte('0' + ms/100)
	put2(d[21:23], ms%100)
	d[23] = 'Z'
	return append(b, d[:]...)
}

// appendISOExpanded appends t, whose year is outside 0 to 9999, as
// toISOString writes it: the year with a sign and at least six digits
// (+010000-01-01T00:00:00.000Z, -000001-...), which parseISOTime reads
// back up to six. AppendFormat writes 10000-01-01T..., which neither
// JavaScript nor time.Parse reads.
func appendISOExpanded(b []byte, t time.Time) []byte {
	t = t.UTC()
	y := t.Year()
	if y < 0 {
		b, y = append(b, '-'), -y
	} else {
		b = append(b, '+')
	}
	for n := 100000; n > 1 && y < n; n /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(y), 10)
	return t.AppendFormat(b, isoMillis[4:])
}

// parseISOExpanded parses what appendISOExpanded writes, with six digits
// of year (JavaScript's range): +YYYYYY-MM-DDTHH:MM:SS.sssZ. As in
// JavaScript, -000000 is not a year.
func parseISOExpanded(v []byte) (time.Time, bool) {
	if len(v) != len(isoMillis)+3 || (v[0] != '+' && v[0] != '-') {
		return time.Time{}, false
	}
	// The rest is checked by the fast parse, in a year of its own.
	var d [len(isoMillis)]byte
	copy(d[:], "2000")
	copy(d[4:], v[7:])
	if _, ok := parseISOMillis(&d); !ok {
		return time.Time{}, false
	}
	y := 0
	for _, c := range v[1:7] {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		y = y*10 + int(c-'0')
	}
	if v[0] == '-' {
		if y == 0 {
			return time.Time{}, false
		}
		y = -y
	}
	two := func(i int) int { return int(d[i]-'0')*10 + int(d[i+1]-'0') }
	ms := int(d[20]-'0')*100 + two(21)
	return time.Date(y, time.Month(two(5)), two(8), two(11), two(14), two(17), ms*int(time.Millisecond), time.UTC), true
}

// appendHTTPTime appends t as an HTTP date (http.TimeFormat: Mon, 02 Jan
// 2006 15:04:05 GMT), the form of a cookie's Expires attribute.
func appendHTTPTime(b []byte, t time.Time) []byte {
	c, ok := civilOf(t)
	if !ok {
		return t.UTC().AppendFormat(b, http.TimeFormat)
	}
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	var d [len(http.TimeFormat)]byte
	copy(d[0:3], days[3*c.weekday:])
	d[3], d[4] = ',', ' '
	put2(d[5:7], c.day)
	d[7] = ' '
	copy(d[8:11], months[3*(c.month-1):])
	d[11] = ' '
	put4(d[12:16], c.year)
	d[16] = ' '
	c.putClock(d[17:25])
	copy(d[25:], " GMT")
	return append(b, d[:]...)
}

// civil is an instant's calendar fields in UTC, to the second.
type civil struct {
	year, month, day, hour, minute, second, weekday int
}

// civilOf splits t, in UTC, into its calendar fields from its Unix seconds
// (Howard Hinnant's civil_from_days), once for all of them, where t.Date,
// t.Clock and t.Weekday would each start again; ok is false outside the
// years 0 to 9999, which the appenders leave to AppendFormat.
func civilOf(t time.Time) (c civil, ok bool) {
	secs := t.Unix()
	days := floorDiv(secs, 86400)
	rem := int(secs - days*86400)
	c.hour, c.minute, c.second = rem/3600, rem/60%60, rem%60
	c.weekday = int((days%7 + 11) % 7) // 1970-01-01 was a Thursday (4)
	z := days + 719468                 // days since 0000-03-01
	era := floorDiv(z, 146097)
	dayOfEra := z - era*146097                                                       // [0, 146096]
	yearOfEra := (dayOfEra - dayOfEra/1460 + dayOfEra/36524 - dayOfEra/146096) / 365 // [0, 399]
	dayOfYear := dayOfEra - (365*yearOfEra + yearOfEra/4 - yearOfEra/100)            // from March 1st
	mp := (5*dayOfYear + 2) / 153                                                    // March is 0
	c.day = int(dayOfYear - (153*mp+2)/5 + 1)
	c.month = int(mp + 3)
	if c.month > 12 {
		c.month -= 12
	}
	year := yearOfEra + era*400
	if c.month <= 2 {
		year++
	}
	if year < 0 || year > 9999 {
		return civil{}, false
	}
	c.year = int(year)
	return c, true
}

// daysSinceEpoch is the number of days from 1970-01-01 to the given date of
// the proleptic Gregorian calendar, normalising a day past the month's end
// as time.Date does (Howard Hinnant's days_from_civil); it spares
// parseISOTime time.Date's general normalisation.
func daysSinceEpoch(y, month, day int) int64 {
	if month <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yearOfEra := y - era*400                        // [0, 399]
	dayOfYear := (153*((month+9)%12)+2)/5 + day - 1 // from March 1st
	dayOfEra := yearOfEra*365 + yearOfEra/4 - yearOfEra/100 + dayOfYear
	return int64(era)*146097 + int64(dayOfEra) - 719468
}

// floorDiv is a/b rounded toward negative infinity (b > 0), where Go's /
// rounds toward zero: the calendar's eras and days before 1970 need it.
func floorDiv[T int | int64](a, b T) T {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// putClock writes the time of day as 15:04:05 into d[:8].
func (c civil) putClock(d []byte) {
	_ = d[7]
	put2(d[0:2], c.hour)
	d[2] = ':'
	put2(d[3:5], c.minute)
	d[5] = ':'
	put2(d[6:8], c.second)
}

// twoDigits holds 00 to 99, each as two bytes: put2 copies a number's two
// digits at once, where a loop would divide for each.
const twoDigits = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// put2 writes n (0 to 99) as two digits, zero-padded, into d[:2].
func put2(d []byte, n int) {
	i := uint(n) % 100 * 2 // in range for any n; callers pass 0 to 99
	d[0], d[1] = twoDigits[i], twoDigits[i+1]
}

// put4 writes n (0 to 9999) as four digits, zero-padded, into d[:4].
func put4(d []byte, n int) {
	_ = d[3]
	put2(d[0:2], n/100)
	put2(d[2:4], n%100)
}
