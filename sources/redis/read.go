package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// luaCount is KEDA's list script: the key's TYPE picks LLEN, SCARD, ZCARD
// or HLEN, and a key that does not exist counts 0 (LLEN of nothing). It
// also returns the type, and -1 for a type KEDA cannot count, where KEDA's
// script fails.
const luaCount = `local t = redis.call('TYPE', KEYS[1]).ok
local cmd = ({list = 'LLEN', set = 'SCARD', zset = 'ZCARD', hash = 'HLEN', none = 'LLEN'})[t]
if not cmd then return {t, -1} end
return {t, redis.call(cmd, KEYS[1])}`

// luaCountSHA is the SHA1 of luaCount, for EVALSHA.
var luaCountSHA = func() string { h := sha1.Sum([]byte(luaCount)); return hex.EncodeToString(h[:]) }()

// read is the authoritative read of r (its sources.ReadFunc). Its errors
// name the read and never hold a secret.
func (e *endpoint) read(ctx context.Context, r *resource) (float64, error) {
	n, err := e.count(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("redis: read %s: %w", r.id.Name, err)
	}
	return float64(n), nil
}

func (e *endpoint) count(ctx context.Context, r *resource) (int64, error) {
	switch r.kind {
	case readList:
		return e.listCount(ctx, r)
	case readXLen:
		return e.int(ctx, r.key, "XLEN", r.key)
	case readXPending:
		v, err := e.do(ctx, r.key, "XPENDING", r.key, r.group)
		if err != nil {
			return 0, err
		}
		if a, ok := v.([]any); ok && len(a) > 0 {
			if n, ok := a[0].(int64); ok {
				return n, nil
			}
		}
		return 0, fmt.Errorf("unexpected XPENDING reply %T", v)
	case readXLag:
		return e.lag(ctx, r)
	}
	return 0, fmt.Errorf("unknown read %d", r.kind)
}

// listCount runs luaCount (EVALSHA, EVAL when the script is not loaded).
func (e *endpoint) listCount(ctx context.Context, r *resource) (int64, error) {
	v, err := e.do(ctx, r.key, "EVALSHA", luaCountSHA, 1, r.key)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		v, err = e.do(ctx, r.key, "EVAL", luaCount, 1, r.key)
	}
	if err != nil {
		return 0, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return 0, fmt.Errorf("unexpected script reply %v", v)
	}
	typ, _ := a[0].(string)
	n, ok := a[1].(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected script reply %v", v)
	}
	e.noteKeyType(r, typ)
	if n < 0 {
		return 0, fmt.Errorf("the key is a %s: listName must name a list, set, sorted set or hash", typ)
	}
	return n, nil
}

// lag reads the group's lag from XINFO GROUPS as KEDA does: 0 when the
// stream does not exist, XLEN when the group does not. A lag Redis cannot
// tell (NULL, after XGROUP SETID or deletions inside the unread part) is
// an error rather than KEDA's -1, which would read as idle while work may
// be waiting.
func (e *endpoint) lag(ctx context.Context, r *resource) (int64, error) {
	v, err := e.do(ctx, r.key, "XINFO", "GROUPS", r.key)
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return 0, nil
		}
		return 0, err
	}
	n, found, err := groupLag(v, r.group)
	if err != nil || found {
		return n, err
	}
	return e.int(ctx, r.key, "XLEN", r.key)
}

// groupLag finds group's lag in an XINFO GROUPS reply (RESP2).
func groupLag(reply any, group string) (lag int64, found bool, err error) {
	groups, ok := reply.([]any)
	if !ok {
		return 0, false, fmt.Errorf("unexpected XINFO GROUPS reply %T", reply)
	}
	for _, g := range groups {
		fields := pairs(g)
		if fields["name"] != group {
			continue
		}
		lag, present := fields["lag"]
		switch {
		case !present:
			return 0, true, errors.New("lagCount needs Redis 7 or later (XINFO GROUPS has no lag)")
		case lag == nil:
			return 0, true, fmt.Errorf("group %q: Redis cannot tell its lag (XGROUP SETID, or entries deleted before it read them)", group)
		}
		if n, ok := lag.(int64); ok {
			return n, true, nil
		}
		return 0, true, fmt.Errorf("unexpected lag %v", lag)
	}
	return 0, false, nil
}

// pairs reads a RESP2 flat list of field names and values.
func pairs(v any) map[string]any {
	a, _ := v.([]any)
	out := make(map[string]any, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		if k, ok := a[i].(string); ok {
			out[k] = a[i+1]
		}
	}
	return out
}

// int runs a command that answers an integer.
func (e *endpoint) int(ctx context.Context, key string, args ...any) (int64, error) {
	v, err := e.do(ctx, key, args...)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected %s reply %T", args[0], v)
	}
	return n, nil
}

// do runs one command about key on the node that serves it, following a
// cluster's MOVED and ASK redirections (and resolving the topology again
// after them).
func (e *endpoint) do(ctx context.Context, key string, args ...any) (any, error) {
	var err error
	for range 3 {
		var addr string
		if addr, err = e.ownerOf(ctx, key); err != nil {
			return nil, err
		}
		c := e.client(addr)
		if c == nil {
			return nil, errEndpointClosed
		}
		var v any
		v, err = c.Do(ctx, args...).Result()
		if to, ask, ok := redirection(err); ok {
			e.markStale()
			if c = e.client(to); c == nil {
				return nil, errEndpointClosed
			}
			if ask {
				v, err = asking(ctx, c, args)
			} else {
				v, err = c.Do(ctx, args...).Result()
			}
		}
		switch {
		case err == nil:
			return v, nil
		case errors.Is(err, redis.ErrClosed) && ctx.Err() == nil:
			continue // the node's client was replaced meanwhile
		case !isReply(err):
			e.markStale() // the node may have gone: a sentinel or cluster failover?
		}
		return nil, err
	}
	return nil, err
}

// asking sends ASKING then the command, for a slot being migrated.
func asking(ctx context.Context, c *redis.Client, args []any) (any, error) {
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "ASKING")
		p.Do(ctx, args...)
		return nil
	})
	if len(cmds) == 2 {
		if cmd, ok := cmds[1].(*redis.Cmd); ok {
			return cmd.Result()
		}
	}
	if err == nil {
		err = errors.New("no reply to ASKING")
	}
	return nil, err
}

// redirection parses a cluster's MOVED or ASK error.
func redirection(err error) (addr string, ask, ok bool) {
	if err == nil || !isReply(err) {
		return "", false, false
	}
	f := strings.Fields(err.Error())
	if len(f) != 3 || (f[0] != "MOVED" && f[0] != "ASK") {
		return "", false, false
	}
	return f[2], f[0] == "ASK", true
}

// isReply reports whether err is an error reply of the server, as opposed
// to a network or client error.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.ErrClosed)
}
