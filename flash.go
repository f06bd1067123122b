package session

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// flashKey is where flash messages live, as connect-flash keeps them:
// {"flash": {"info": ["saved"], "error": [...]}}, so an express app sharing
// the store sees the same messages.
const flashKey = "flash"

// Flash adds a message of the given kind ("info", "error", ...), to be read
// once by Flashes, typically on the page after a redirect. The messages
// already stored, of every kind, stay as they were, whatever an express app
// stored (connect-flash takes objects and numbers too). Parallel requests'
// messages are all kept (with a store that compares and swaps): a save that
// finds another request's write adds this request's messages to the ones
// stored now, and removes only the messages its Flashes calls read.
func (s *Session) Flash(kind, msg string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flashes := s.flashesLocked()
	flashes[kind] = append(flashList(flashes[kind]), msg)
	s.values.set(flashKey, flashes)
	s.flashChanged(true, flashOp{kind: kind, msgs: []any{msg}})
}

// Flashes returns the messages of that kind and removes them: each message is
// read once. A message that is not a string (an object an express app
// stored with connect-flash) is returned as its JSON text. It returns nil
// when there are none (and then changes nothing); the other kinds' messages
// stay stored as they were.
func (s *Session) Flashes(kind string) []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flashes := s.flashesLocked()
	list := flashList(flashes[kind])
	if len(list) == 0 {
		return nil
	}
	msgs := make([]string, len(list))
	for i, m := range list {
		if str, ok := m.(string); ok {
			msgs[i] = str
		} else {
			msgs[i] = jsonText(m)
		}
	}
	delete(flashes, kind)
	s.putFlashes(flashes)
	s.flashChanged(len(flashes) != 0, flashOp{kind: kind, msgs: list, take: true})
	return msgs
}

// jsonText returns v's JSON text as JSON.stringify writes it, but for the
// order of an object's keys (sorted) and U+2028 and U+2029 (escaped): <, >
// and & as they are, where json.Marshal escapes them for HTML. It returns ""
// if v does not encode.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// flashOps are the Flash and Flashes calls of a request since its last
// save, in order (see change); the first doubt.flashes of them went out
// with a write in doubt.
type flashOps struct {
	ops []flashOp
}

// flashOp is one Flash (msgs added to kind) or Flashes (take: msgs, the
// kind's messages as read, removed).
type flashOp struct {
	kind string
	msgs []any
	take bool
}

// flashChanged records a Flash or Flashes call that left the flash key set
// or deleted. Once a handler set or deleted the key whole since the last
// save (Set, Delete, Clear), its value wins at a merge, as any key's, and
// the calls after that are not recorded.
func (s *Session) flashChanged(set bool, op flashOp) {
	ops := new(flashOps)
	if i, ok := s.changes.find(flashKey); ok {
		if ops = s.changes[i].v.flash; ops == nil {
			s.changed(flashKey, set)
			return
		}
	}
	ops.ops = append(ops.ops, op)
	s.putChange(flashKey, change{set: set, flash: ops})
	s.sessionState.changed()
}

// replayFlashes applies this request's Flash and Flashes calls to the
// flash messages of s.values, the stored copy a save re-read (merge): the
// messages added are appended, and those read are removed, each once, if
// they are still there (another request may have read them too). s.mu is
// held.
func (s *Session) replayFlashes(f *flashOps) {
	flashes := s.flashesLocked()
	for _, op := range f.ops {
		list := flashList(flashes[op.kind])
		if !op.take {
			flashes[op.kind] = append(list, op.msgs...)
			continue
		}
		for _, msg := range op.msgs {
			if i := slices.IndexFunc(list, func(m any) bool { return reflect.DeepEqual(m, msg) }); i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
		}
		if len(list) == 0 {
			delete(flashes, op.kind)
		} else {
			flashes[op.kind] = list
		}
	}
	s.putFlashes(flashes)
}

// putFlashes stores flashes under the flash key, or deletes the key when
// no kind has messages left.
func (s *Session) putFlashes(flashes map[string]any) {
	if len(flashes) == 0 {
		s.values.del(flashKey)
	} else {
		s.values.set(flashKey, flashes)
	}
}

// flashesLocked returns a private copy of the stored flash messages: each
// kind's list (a []any, as decoded from the store) copied, and any other
// value kept as it is, so that writing the copy back loses nothing. What a
// handler set under the key by hand (a map[string][]string, a struct) is
// read as the next request will read it from the store: through JSON.
func (s *Session) flashesLocked() map[string]any {
	out := map[string]any{}
	v, ok := s.values.get(flashKey)
	if !ok {
		return out
	}
	m, ok := v.(map[string]any) // decoded from the store, or set by Flash
	if !ok {
		m, _ = asStored(v).(map[string]any)
	}
	for k, msgs := range m {
		switch list := msgs.(type) {
		case []any:
			msgs = append([]any(nil), list...)
		case string, float64, bool, nil, map[string]any: // as decoded
		default: // a []string, say, in a map a handler set
			msgs = asStored(list)
		}
		out[k] = msgs
	}
	return out
}

// asStored returns v as a load of its stored JSON gives it, or v itself
// if it does not encode (its save fails).
func asStored(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	if x, err := decodeAny(raw); err == nil {
		return x
	}
	return v
}

// flashList returns the messages of one kind's stored value: the list
// itself, none for nil, and a value that is not a list (connect-flash never
// stores one) as a message of its own.
func flashList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}
