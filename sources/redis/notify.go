package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Keyspace notifications (notify-keyspace-events). A class is one flag
// letter; classes is a set of them, kept as a string in canonical order.
//
// What a resource requires (documented in doc.go):
//
//   - every resource: K (keyspace channels, which are what we subscribe
//     to), g (del, rename, expire: generic commands) and x (expired keys);
//   - a list trigger: l, and s, z or h once its key is seen to be a set, a
//     sorted set or a hash (KEDA's list trigger counts those too);
//   - a streams trigger: t.
//
// A (all) stands for g$lshzxetd; E (keyevent channels), m (key misses) and
// n (new keys) are not needed.
const (
	classKeyspace = 'K'
	classOrder    = "KEg$lshzxetdmn"
	classAll      = "g$lshzxetd"
)

// classes is a set of notification classes in canonical order.
type classes string

// parseClasses expands the value of notify-keyspace-events.
func parseClasses(flags string) classes {
	var set [128]bool
	for _, r := range flags {
		if r == 'A' {
			for _, a := range classAll {
				set[a] = true
			}
		} else if r < 128 {
			set[r] = true
		}
	}
	var b strings.Builder
	for _, r := range classOrder {
		if set[r] {
			b.WriteRune(r)
		}
	}
	return classes(b.String())
}

// union returns the classes in c or d.
func (c classes) union(d classes) classes { return parseClasses(string(c) + string(d)) }

// missing returns the classes of need that c lacks.
func (c classes) missing(need classes) classes {
	var b strings.Builder
	for _, r := range need {
		if !strings.ContainsRune(string(c), r) {
			b.WriteRune(r)
		}
	}
	return classes(b.String())
}

// mergeFlags returns flags with the classes of add appended, keeping every
// flag already set, for CONFIG SET.
func mergeFlags(flags string, add classes) string {
	return flags + string(parseClasses(flags).missing(add))
}

// keyspaceChannel is the channel of key's keyspace notifications in db.
func keyspaceChannel(db int, key string) string {
	return "__keyspace@" + strconv.Itoa(db) + "__:" + key
}

// resKind is what a resource reads.
type resKind int

const (
	readList     resKind = iota + 1 // the Lua script: LLEN, SCARD, ZCARD or HLEN by TYPE
	readXLen                        // XLEN
	readXPending                    // XPENDING count
	readXLag                        // XINFO GROUPS lag (XLEN without the group)
)

// required returns the classes a resource of kind k needs, given the type
// its key was last seen to have (none, list, set, zset, hash, stream, ...).
func required(k resKind, keyType string) classes {
	if k != readList {
		return "Kgtx"
	}
	switch keyType {
	case "set":
		return "Kglsx"
	case "zset":
		return "Kglzx"
	case "hash":
		return "Kglhx"
	}
	return "Kglx"
}

// additive reports whether keyspace event ev on a resource of kind k adds
// work, so that the Scheduler may record a lower bound of 1 at once.
//
// Pushes add to a list, a set, a sorted set or a hash. LMOVE, BLMOVE and
// RPOPLPUSH are notified as a pop on the source and a push (lpush or rpush)
// on the destination, so the destination is additive through its push
// event; an event literally named lmove or rpoplpush (not sent by Redis
// 7, but possible from a server that names the command) does not tell
// which side the key was on, and counts as not additive. Renames, restores
// and copies onto the key are not additive either: the read that follows
// tells. XADD adds to XLEN and to a group's lag, never to its pending
// entries (only a consumer's read does, and XREADGROUP is not notified).
func additive(k resKind, ev string) bool {
	switch k {
	case readList:
		switch ev {
		case "lpush", "rpush", "lpushx", "rpushx", "linsert", "sadd", "zadd", "hset":
			return true
		}
	case readXLen, readXLag:
		return ev == "xadd"
	}
	return false
}

// checkConfig reads notify-keyspace-events and, with
// Options.ConfigureNotifications, adds the missing classes with CONFIG
// SET. A setting that cannot be read (CONFIG refused, as on managed Redis)
// counts as no notifications.
func (s *subscription) checkConfig(ctx context.Context) (transient bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.e.s.opts.DialTimeout)
	defer cancel()
	s.mu.Lock()
	need := s.need
	s.mu.Unlock()
	c := s.e.client(s.addr)
	if c == nil {
		return false // stopped
	}
	flags, err := readFlags(ctx, c)
	if err == nil && s.e.s.opts.ConfigureNotifications {
		if miss := parseClasses(flags).missing(need); miss != "" {
			merged := mergeFlags(flags, need)
			if serr := c.ConfigSet(ctx, "notify-keyspace-events", merged).Err(); serr != nil {
				if s.refusedFlags != merged { // once per setting, not every minute
					s.refusedFlags = merged
					s.e.log.Warn("cannot enable redis keyspace notifications", "node", s.addr, "flags", flags, "want", merged, "err", serr)
				}
			} else {
				s.e.log.Info("enabled redis keyspace notifications", "node", s.addr, "was", flags, "now", merged)
				flags, err = readFlags(ctx, c)
			}
		}
	}
	// A network error says nothing about the setting: keep what was known
	// and try again soon.
	transient = err != nil && !isReply(err)
	s.mu.Lock()
	s.checkedNeed = need
	switch {
	case err == nil:
		s.flagsKnown, s.flagsErr, s.flagsTransient = true, nil, false
		s.flags, s.covered = flags, parseClasses(flags)
	case transient:
		s.flagsTransient = true
	default:
		s.flagsKnown, s.flagsErr, s.flagsTransient = false, err, false
	}
	s.mu.Unlock()
	s.e.poke.Wake()
	return transient
}

func readFlags(ctx context.Context, c *redis.Client) (string, error) {
	m, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return "", err
	}
	v, ok := m["notify-keyspace-events"]
	if !ok {
		return "", errors.New("CONFIG GET notify-keyspace-events returned nothing")
	}
	return v, nil
}
