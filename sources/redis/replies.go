package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/redis/go-redis/v9"
)

// receive reads the connection until it fails or is closed. A silent
// connection is PINGed after HealthCheckInterval and dropped when the
// PONG does not come within another.
func (s *subscription) receive(ps *redis.PubSub) error {
	interval := s.e.s.opts.HealthCheckInterval
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(context.Background(), interval)
		if err != nil {
			switch {
			case isTimeout(err) && pinged:
				return fmt.Errorf("no reply to PING from %s within %s", s.addr, interval)
			case isTimeout(err):
				if err := s.send(pendPing, nil, false); err != nil {
					return err
				}
				pinged = true
				continue
			case isReply(err):
				if err := s.refused(err); err != nil {
					return err
				}
				continue
			case err.Error() == errFlushed:
				// Only invalidateChannel sends a null payload.
				pinged = false
				s.e.onFlush()
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == invalidateChannel {
				s.e.onInvalidate(m.PayloadSlice)
				continue
			}
			s.e.onMessage(m.Channel, m.Payload)
		case *redis.Subscription:
			if err := s.answered(m.Kind, m.Channel); err != nil {
				return err
			}
		case *redis.Pong:
			if err := s.answered("pong", ""); err != nil {
				return err
			}
		}
	}
}

// errDesync means a reply did not match the command awaited.
var errDesync = errors.New("redis: unexpected reply on the subscription connection")

// answered takes one reply off the head of the queue.
func (s *subscription) answered(kind, channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fifo) == 0 {
		return fmt.Errorf("%w: %s %q with nothing awaited", errDesync, kind, channel)
	}
	p := s.fifo[0]
	switch {
	case kind == "pong" && p.kind == pendPing:
	case kind == "subscribe" && p.kind == pendSubscribe && p.chans[p.next] == channel:
		s.subscribed[channel] = true
		if p.initial {
			s.initialAnsweredLocked()
		} else if s.wantsLocked(channel) {
			s.confirmed = append(s.confirmed, channel)
		}
	case kind == "unsubscribe" && p.kind == pendUnsubscribe && p.chans[p.next] == channel:
		delete(s.subscribed, channel)
	default:
		return fmt.Errorf("%w: %s %q", errDesync, kind, channel)
	}
	if p.next++; p.kind == pendPing || p.next == len(p.chans) {
		s.fifo = s.fifo[1:]
	}
	if kind != "pong" {
		s.e.poke.Wake()
	}
	return nil
}

func (s *subscription) initialAnsweredLocked() {
	if s.initial--; s.initial == 0 {
		s.resynced = true
	}
}

// refused handles an error reply, which only a SUBSCRIBE gets (NOPERM when
// an ACL user may not use a channel): one channel is denied; several are
// tried again one by one.
func (s *subscription) refused(reply error) error {
	s.mu.Lock()
	if len(s.fifo) == 0 || s.fifo[0].kind != pendSubscribe || s.fifo[0].next != 0 {
		s.mu.Unlock()
		return fmt.Errorf("%w: %v", errDesync, reply)
	}
	p := s.fifo[0]
	s.fifo = s.fifo[1:]
	for _, ch := range p.chans {
		delete(s.requested, ch)
	}
	if len(p.chans) == 1 {
		s.denied[p.chans[0]] = reply
		if p.initial {
			s.initialAnsweredLocked()
		}
		s.mu.Unlock()
		s.e.log.Warn("redis refused a subscription", "node", s.addr, "channel", p.chans[0], "err", reply)
		s.e.poke.Wake()
		s.wakeCh.Wake() // its resources may need client tracking
		return nil
	}
	s.mu.Unlock()
	for _, ch := range p.chans {
		if err := s.send(pendSubscribe, []string{ch}, p.initial); err != nil {
			return err
		}
	}
	return nil
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
