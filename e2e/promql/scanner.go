package promql

import "fmt"

// scanner walks a PromQL expression byte by byte.
type scanner struct {
	src string
	pos int
}

func (s *scanner) more() bool { return s.pos < len(s.src) }
func (s *scanner) peek() byte { return s.src[s.pos] }

func (s *scanner) skipSpace() {
	for s.more() && (s.peek() == ' ' || s.peek() == '\t' || s.peek() == '\n' || s.peek() == '\r') {
		s.pos++
	}
}

// nextNonSpace is the next byte that is not a space, not consumed (0 at the
// end).
func (s *scanner) nextNonSpace() byte {
	for i := s.pos; i < len(s.src); i++ {
		if c := s.src[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

// ident consumes an identifier (metric names may hold colons).
func (s *scanner) ident() string {
	start := s.pos
	for s.more() && (isIdentStart(s.peek()) || isDigit(s.peek())) {
		s.pos++
	}
	return s.src[start:s.pos]
}

// number consumes a number or a duration: 5, 0.5, 1e3, 0x1f, 5m, 1h30m.
func (s *scanner) number() {
	for s.more() && (isIdentStart(s.peek()) || isDigit(s.peek()) || s.peek() == '.') {
		if c := s.peek(); (c == 'e' || c == 'E') && s.pos+1 < len(s.src) && (s.src[s.pos+1] == '+' || s.src[s.pos+1] == '-') {
			s.pos++
		}
		s.pos++
	}
}

// skipString consumes a quoted string; backslash escapes in " and '.
func (s *scanner) skipString() error {
	quote, start := s.peek(), s.pos
	s.pos++
	for s.more() {
		c := s.peek()
		s.pos++
		switch {
		case c == '\\' && quote != '`':
			s.pos++
		case c == quote:
			return nil
		}
	}
	return fmt.Errorf("promql: unterminated string at %d in %q", start, s.src)
}

// skipTo consumes from an opening bracket to its closing byte, skipping
// strings inside (a matcher's value may hold the closing byte).
func (s *scanner) skipTo(closing byte) error {
	start := s.pos
	s.pos++
	for s.more() {
		switch c := s.peek(); {
		case c == '"' || c == '\'' || c == '`':
			if err := s.skipString(); err != nil {
				return err
			}
		case c == closing:
			s.pos++
			return nil
		default:
			s.pos++
		}
	}
	return fmt.Errorf("promql: no %q closes the bracket at %d in %q", closing, start, s.src)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
