// Package shortid shortens session ids for logs and error messages: enough
// of the id to correlate two lines, not enough to use it as a cookie.
package shortid

// keep is how many leading bytes of an id stay visible.
const keep = 6

// Of returns the first few bytes of id followed by "…", or id itself when it
// is too short to be worth stealing.
func Of(id string) string {
	if len(id) <= keep+2 {
		return id
	}
	return id[:keep] + "…"
}
