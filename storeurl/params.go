package storeurl

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A param is one query parameter that a scheme understands: its name, what
// kind of value it takes, what it does, and how it changes the scheme's
// configuration C. Each scheme lists its params in a table (a paramTable)
// and hands the URL to applyParams, so that every scheme parses and
// reports errors the same way. Make params with durationParam, intParam,
// boolParam and stringParam.
type param[C any] struct {
	paramInfo
	set func(c *C, value string) error
}

// paramInfo describes a query parameter, whatever its scheme.
type paramInfo struct {
	name string
	kind string // "duration", "int", "bool", "string" or "path"
	doc  string // one line, as in the package doc
}

// A paramTable is the list of query parameters a scheme understands.
type paramTable[C any] []param[C]

// infos describes the table's parameters, in table order.
func (t paramTable[C]) infos() []paramInfo {
	out := make([]paramInfo, len(t))
	for i, p := range t {
		out[i] = p.paramInfo
	}
	return out
}

// sortedNames returns the table's parameter names, sorted.
func (t paramTable[C]) sortedNames() []string {
	out := make([]string, len(t))
	for i, p := range t {
		out[i] = p.name
	}
	slices.Sort(out)
	return out
}

// lookup returns the param called name.
func (t paramTable[C]) lookup(name string) (param[C], bool) {
	for _, p := range t {
		if p.name == name {
			return p, true
		}
	}
	return param[C]{}, false
}

// nearName returns the table's parameter whose name name spells another
// way: in other letter cases, or with "-" or no separator for "_"
// (cleanupInterval, Default-TTL for default_ttl). A scheme that hands the
// parameters it does not know to its driver refuses these: no driver
// option is spelled so, and MongoDB's driver ignores an option it does not
// know.
func (t paramTable[C]) nearName(name string) (string, bool) {
	fold := func(s string) string { return strings.ToLower(separators.Replace(s)) }
	folded := fold(name)
	for _, p := range t {
		if fold(p.name) == folded {
			return p.name, true
		}
	}
	return "", false
}

// separators drops the "_" and "-" of a parameter name, for nearName.
var separators = strings.NewReplacer("_", "", "-", "")

// durationRule says which durations a parameter accepts besides positive ones.
type durationRule int

const (
	positive     durationRule = iota // > 0
	zeroAllowed                      // >= 0; 0 usually turns something off
	zeroOrMinus1                     // >= 0, or -1 for "none" (go-redis's read and write timeouts)
)

// durationParam makes a parameter that takes a Go duration ("90s", "1h30m").
func durationParam[C any](name string, rule durationRule, doc string, set func(*C, time.Duration) error) param[C] {
	return param[C]{paramInfo: paramInfo{name, "duration", doc}, set: func(c *C, v string) error {
		if rule == zeroOrMinus1 && v == "-1" {
			return set(c, -1)
		}
		d, err := parseDuration(v, rule != positive)
		if err != nil {
			return err
		}
		return set(c, d)
	}}
}

// intParam makes a parameter that takes a whole number of at least min.
func intParam[C any](name string, min int, doc string, set func(*C, int) error) param[C] {
	return param[C]{paramInfo: paramInfo{name, "int", doc}, set: func(c *C, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("not a count (want a whole number of at least %d)", min)
		}
		return set(c, n)
	}}
}

// boolParam makes a parameter that takes true or false (or 1 or 0).
func boolParam[C any](name, doc string, set func(*C, bool) error) param[C] {
	return param[C]{paramInfo: paramInfo{name, "bool", doc}, set: func(c *C, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false")
		}
		return set(c, b)
	}}
}

// fileParam makes a parameter that takes the path of a file, relative to
// the working directory unless absolute; the path may not be empty. set
// keeps the path: the opener reads the file once every parameter is known.
func fileParam[C any](name, doc string, set func(*C, string) error) param[C] {
	return param[C]{paramInfo: paramInfo{name, "path", doc}, set: func(c *C, v string) error {
		if v == "" {
			return fmt.Errorf("empty (want the path of a file)")
		}
		return set(c, v)
	}}
}

// stringParam makes a parameter that takes any text; set may refuse some.
func stringParam[C any](name, doc string, set func(*C, string) error) param[C] {
	return param[C]{paramInfo: paramInfo{name, "string", doc}, set: set}
}

// option adapts a store's option constructor (memstore.WithMaxSessions, ...)
// to a param setter on a scheme whose configuration is the option list.
func option[O, V any](with func(V) O) func(*[]O, V) error {
	return func(opts *[]O, v V) error {
		*opts = append(*opts, with(v))
		return nil
	}
}

// applyParams applies the query parameters of u to c with the setters of
// table. Unknown parameters, parameters given more than once, bad escapes
// and values a setter refuses are all reported, each naming its parameter,
// in the order they appear in the URL. Values of secret parameters (see
// isSecretName) are never shown, nor what precedes an "@" (hideCredentials).
func applyParams[C any](c *C, u *url.URL, table paramTable[C]) error {
	_, err := applyTable(c, u.RawQuery, table, false)
	return err
}

// applyOwnParams is applyParams for a scheme whose driver reads parameters
// of its own from the same query (mongodb, postgres): it applies the
// parameters of table and returns the others, in their order and escaping,
// as the raw query to hand to the driver, which judges them. A parameter
// that spells one of table's another way (cleanupInterval) is refused,
// naming the table's spelling (nearName). A semicolon or
// a bad escape is refused here, whoever's the parameter: the driver might
// read a semicolon as a separator and quote the query in its error.
func applyOwnParams[C any](c *C, u *url.URL, table paramTable[C]) (driverQuery string, err error) {
	return applyTable(c, u.RawQuery, table, true)
}

// applyTable is applyParams and applyOwnParams: with passUnknown, the
// parameters not in table are returned as a raw query instead of refused.
func applyTable[C any](c *C, rawQuery string, table paramTable[C], passUnknown bool) (string, error) {
	pairs := splitQuery(rawQuery)
	count := make(map[string]int, len(pairs))
	for _, p := range pairs {
		count[p.name]++
	}
	var (
		errs     paramErrors
		rest     []string
		reported = make(map[string]bool)
	)
	for _, p := range pairs {
		prm, ok := table.lookup(p.name)
		switch {
		case p.err != nil: // before the driver's: a driver may read ";" otherwise
			errs = append(errs, p.err)
		case !ok && passUnknown:
			if own, near := table.nearName(p.name); near {
				// The driver would drop it in silence (MongoDB's) or
				// refuse it without a word of the store's spelling.
				errs = append(errs, fmt.Errorf("parameter %q is spelled %s", hideCredentials(p.name), own))
				continue
			}
			rest = append(rest, p.raw)
		case !ok:
			errs = append(errs, fmt.Errorf("unknown parameter %q (known: %s)", hideCredentials(p.name), strings.Join(table.sortedNames(), ", ")))
		case count[p.name] > 1:
			if !reported[p.name] {
				reported[p.name] = true
				errs = append(errs, fmt.Errorf("parameter %q given %d times", p.name, count[p.name]))
			}
		default:
			if err := prm.set(c, p.value); err != nil {
				errs = append(errs, fmt.Errorf("parameter %s: %w", paramLabel(p.name, p.value), err))
			}
		}
	}
	if len(errs) > 0 {
		return "", errs
	}
	return strings.Join(rest, "&"), nil
}

// queryPair is one name=value of a URL's query, unescaped, or the error
// that unescaping it gave.
type queryPair struct {
	raw, name, value string
	err              error
}

// splitQuery splits a raw query into its parameters in the URL's order
// (url.Values, a map, loses the order). It follows url.ParseQuery: pairs are
// separated by "&", empty pairs are skipped, a semicolon is an error. Its
// errors name the parameter (hideCredentials) but never show a value.
func splitQuery(raw string) []queryPair {
	var out []queryPair
	for seg := range strings.SplitSeq(raw, "&") {
		if seg == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(seg, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			out = append(out, queryPair{raw: seg, name: rawName, err: fmt.Errorf("bad escape in the name of query parameter %q", hideCredentials(rawName))})
			continue
		}
		if strings.Contains(seg, ";") {
			out = append(out, queryPair{raw: seg, name: name, err: fmt.Errorf("parameter %q: a semicolon in the query (separate parameters with &)", hideCredentials(name))})
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			out = append(out, queryPair{raw: seg, name: name, err: fmt.Errorf("parameter %q: bad escape in its value", hideCredentials(name))})
			continue
		}
		out = append(out, queryPair{raw: seg, name: name, value: value})
	}
	return out
}

// paramErrors holds every problem with a URL's query parameters, in the
// URL's order.
type paramErrors []error

func (e paramErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e paramErrors) Unwrap() []error { return e }

// secretWords mark a query parameter whose value must never be shown.
var secretWords = []string{"password", "secret", "token", "key"}

// isSecretName reports whether a query parameter called name holds a secret:
// its name contains "password", "secret", "token" or "key", in any case.
func isSecretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// redacted replaces a hidden value, as url.URL.Redacted does for a password.
const redacted = "xxxxx"

// maxShownValue is the longest value an error message repeats.
const maxShownValue = 64

// paramLabel is how an error message names parameter name given value:
// name="value", or name=xxxxx for a secret, or just the name for a value
// too long to be worth repeating.
func paramLabel(name, value string) string {
	switch {
	case isSecretName(name):
		return name + "=" + redacted
	case len(value) > maxShownValue:
		return name
	}
	return name + "=" + strconv.Quote(hideCredentials(value))
}

// Redact returns rawURL with its secrets replaced by "xxxxx": the password
// of the user info, and the value of every query parameter whose name
// contains "password", "secret", "token" or "key" (in any case), whether
// "&" or ";" separates it, and in any other parameter's value of
// comma-separated KEY:value pieces the value of each piece whose KEY is so
// named (authMechanismProperties=AWS_SESSION_TOKEN:xxxxx). Use it wherever a store URL is logged or shown;
// Open's errors already do. A URL with an "@" anywhere but at the end of
// its user info (a password with an unescaped "/", "?" or "#" moves it
// there) shows nothing between the scheme and its last "@", since part of
// a password may be anywhere in it. A URL that does not parse, and a
// key=value connection string ("host=db password=..."), give a
// placeholder, never the raw text.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return shownURL(rawURL, u)
}

// shownURL is Redact for rawURL, parsed as u: rawURL as written when it
// has nothing to hide (url.URL.String turns "mem://?x=1" into "mem:?x=1"),
// else its redacted form.
func shownURL(rawURL string, u *url.URL) string {
	if isKeyValue(u) {
		return keyValueShown
	}
	s, changed := redactURL(u)
	if !changed {
		return rawURL
	}
	return s
}

// keyValueShown stands for a key=value connection string in messages.
const keyValueShown = "(a key=value string, not a URL)"

// isKeyValue reports whether u, parsed from a string without a scheme
// whose path holds an "=", is most likely a libpq key=value connection
// string ("host=db user=app password=..."), which pgx reads and many a
// DATABASE_URL holds. Nothing of it can be shown: a value may be quoted,
// spaces and all, so that no splitting finds where a password ends.
func isKeyValue(u *url.URL) bool {
	return u.Scheme == "" && strings.Contains(u.Path, "=")
}

// redactURL is Redact on a parsed URL; changed reports whether it hid
// anything.
func redactURL(u *url.URL) (s string, changed bool) {
	c := *u
	if strayAt(u) {
		// Part of a password may be in the host, path, query or fragment:
		// hide all of it up to the last "@", and the secret parameters
		// that follow.
		c.User = nil
		rest := strings.TrimPrefix(c.String(), c.Scheme+":")
		rest = hideCredentials(rest)
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			tail, _ := redactPairs(rest[at:], "?&;#")
			rest = rest[:at] + tail
		}
		return c.Scheme + ":" + rest, true
	}
	_, changed = u.User.Password()
	if c.RawQuery != "" {
		var hid bool
		c.RawQuery, hid = redactPairs(c.RawQuery, "&;")
		changed = changed || hid
	}
	return c.Redacted(), changed
}

// strayAt reports whether u has an "@" outside its user info: then the user
// info was cut short, most often by an unescaped "/", "?" or "#" in the
// password, and the rest of the password is in the host, path, query or
// fragment.
func strayAt(u *url.URL) bool {
	return strings.Contains(u.Opaque, "@") || strings.Contains(u.Path, "@") || strings.Contains(u.RawPath, "@") ||
		strings.Contains(u.RawQuery, "@") || strings.Contains(u.Fragment, "@")
}

// hideCredentials hides what may be user info in s, a URL without its
// scheme or a part of one that Open's errors quote: everything before the
// last "@" (but the leading slashes) becomes "xxxxx", as in
// "//xxxxx@host/db". A string without "@" is returned as it is. Every
// error that repeats what the user typed goes through it.
func hideCredentials(s string) string {
	at := strings.LastIndex(s, "@")
	lead := len(s) - len(strings.TrimLeft(s, "/"))
	if at < lead {
		return s
	}
	return s[:lead] + redacted + s[at:]
}

// redactPairs replaces the value of every name=value pair of s whose name
// is a secret's (see isSecretName) or does not unescape, pairs being
// separated by any byte of seps. hid reports whether it replaced any.
func redactPairs(s, seps string) (out string, hid bool) {
	var b strings.Builder
	for len(s) > 0 {
		end := strings.IndexAny(s, seps)
		if end < 0 {
			end = len(s)
		}
		seg := s[:end]
		rawName, rawValue, hasValue := strings.Cut(seg, "=")
		name, err := url.QueryUnescape(rawName)
		if hasValue && (err != nil || isSecretName(name)) {
			seg = rawName + "=" + redacted
			hid = true
		} else if v, ok := redactSubPairs(rawValue); hasValue && ok {
			seg = rawName + "=" + v
			hid = true
		}
		b.WriteString(seg)
		if end < len(s) {
			b.WriteByte(s[end])
			end++
		}
		s = s[end:]
	}
	return b.String(), hid
}

// redactSubPairs hides the secrets inside a parameter's raw value made of
// comma-separated KEY:value pieces, as mongodb's authMechanismProperties
// (SERVICE_NAME:mongodb,AWS_SESSION_TOKEN:...), whose name says nothing of
// the secret it may hold: every piece whose KEY is a secret's name (see
// isSecretName) becomes KEY:xxxxx. The value is unescaped first, as the
// driver reads it ("%3A" is a colon, "%2C" a comma); one that does not
// unescape is read as it is. ok reports whether it hid anything; the value
// is then shown unescaped.
func redactSubPairs(rawValue string) (out string, ok bool) {
	v, err := url.QueryUnescape(rawValue)
	if err != nil {
		v = rawValue
	}
	pieces := strings.Split(v, ",")
	for i, p := range pieces {
		if key, _, isPair := strings.Cut(p, ":"); isPair && isSecretName(key) {
			pieces[i] = key + ":" + redacted
			ok = true
		}
	}
	if !ok {
		return rawValue, false
	}
	return strings.Join(pieces, ","), true
}

// parseDuration parses a Go duration ("90s", "1h30m"); a bare "0" is zero.
// Negative durations are refused, and zero too unless allowZero.
func parseDuration(v string, allowZero bool) (time.Duration, error) {
	if v == "" {
		return 0, fmt.Errorf("empty duration")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration (want e.g. 30s, 10m, 24h)")
	}
	if d < 0 || (d == 0 && !allowZero) {
		if allowZero {
			return 0, fmt.Errorf("must not be negative")
		}
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
