package session

import "encoding/json"

// flashKey is where flash messages live, as connect-flash keeps them:
// {"flash": {"info": ["saved"], "error": [...]}}, so an express app sharing
// the store sees the same messages.
const flashKey = "flash"

// Flash adds a message of the given kind ("info", "error", ...), to be read
// once by Flashes, typically on the page after a redirect. The messages
// already stored, of every kind, stay as they were, whatever an express app
// stored (connect-flash takes objects and numbers too).
func (s *Session) Flash(kind, msg string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flashes := s.flashesLocked()
	flashes[kind] = append(flashList(flashes[kind]), msg)
	s.values.set(flashKey, flashes)
	s.changed(flashKey, true)
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
		} else if b, err := json.Marshal(m); err == nil {
			msgs[i] = string(b)
		}
	}
	delete(flashes, kind)
	if len(flashes) == 0 {
		s.values.del(flashKey)
		s.changed(flashKey, false)
	} else {
		s.values.set(flashKey, flashes)
		s.changed(flashKey, true)
	}
	return msgs
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
		case []any, string, float64, bool, nil, map[string]any: // as decoded
			if list, ok := list.([]any); ok {
				msgs = append([]any(nil), list...)
			}
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
