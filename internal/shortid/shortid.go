// Package shortid shortens session ids for logs and error messages: enough
// of the id to correlate two lines, not enough to use it as a cookie.
package shortid

// keep is how many leading bytes of an id stay visible.
const keep = 6

// Of returns the first few bytes of id followed by "…", or id itself when it
// is too short to be worth stealing. A byte that is not printable ASCII (a
// NUL, a control character, part of a multi-byte character that the cut
// could split, from a custom GenerateID) shows as '?', so that what goes
// into a log line or an error message is always valid, printable text.
func Of(id string) string {
	if len(id) <= keep+2 {
		return printable(id, "")
	}
	return printable(id[:keep], "…")
}

// printable is s with each byte outside printable ASCII replaced by '?',
// followed by suffix; s itself when it needs no change and suffix is empty.
func printable(s, suffix string) string {
	clean := true
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return s + suffix
	}
	b := make([]byte, 0, len(s)+len(suffix))
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return string(append(b, suffix...))
}
