package natsjetstream

import "strings"

// subjectMatches reports whether subject matches filter, a NATS subject
// that may hold the wildcards * (one token) and > (one or more trailing
// tokens).
func subjectMatches(filter, subject string) bool {
	if filter == "" || subject == "" {
		return false
	}
	f := strings.Split(filter, ".")
	s := strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return i == len(f)-1 && len(s) > i
		}
		if i >= len(s) {
			return false
		}
		if tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(f) == len(s)
}
