package session

// flashKey is where flash messages live, as connect-flash keeps them:
// {"flash": {"info": ["saved"], "error": [...]}}, so an express app sharing
// the store sees the same messages.
const flashKey = "flash"

// Flash adds a message of the given kind ("info", "error", ...), to be read
// once by Flashes, typically on the page after a redirect.
func (s *Session) Flash(kind, msg string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flashes := s.flashesLocked()
	flashes[kind] = append(flashes[kind], msg)
	s.values.set(flashKey, flashes)
	s.changed(flashKey, true)
}

// Flashes returns the messages of that kind and removes them: each message is
// read once. It returns nil when there are none (and then changes nothing).
func (s *Session) Flashes(kind string) []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flashes := s.flashesLocked()
	msgs := flashes[kind]
	if len(msgs) == 0 {
		return nil
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

// flashesLocked returns a private copy of the stored flash messages.
func (s *Session) flashesLocked() map[string][]string {
	out := map[string][]string{}
	v, ok := s.values.get(flashKey)
	if !ok {
		return out
	}
	switch v := v.(type) {
	case map[string][]string:
		for k, msgs := range v {
			out[k] = append([]string(nil), msgs...)
		}
	case map[string]any: // decoded from the store
		for k, msgs := range v {
			list, _ := msgs.([]any)
			for _, m := range list {
				if str, ok := m.(string); ok {
					out[k] = append(out[k], str)
				}
			}
		}
	}
	return out
}
