package main

import (
	"bufio"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// redisInfo is what the idle-cost measurement reads from one INFO reply
// (sections stats, commandstats and clients).
type redisInfo struct {
	TotalCommands int64            // total_commands_processed
	Clients       int64            // connected_clients
	Calls         map[string]int64 // per command ("ping", "config|get"): calls
}

// parseRedisInfo reads an INFO reply: "# Section" headers, "key:value"
// lines, and cmdstat_<command>:calls=N,usec=… lines. Fields it does not
// need are skipped; the two counters must be present.
func parseRedisInfo(reply string) (redisInfo, error) {
	info := redisInfo{TotalCommands: -1, Clients: -1, Calls: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(reply))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var err error
		switch {
		case key == "total_commands_processed":
			info.TotalCommands, err = strconv.ParseInt(value, 10, 64)
		case key == "connected_clients":
			info.Clients, err = strconv.ParseInt(value, 10, 64)
		case strings.HasPrefix(key, "cmdstat_"):
			var calls int64
			calls, err = cmdstatCalls(value)
			info.Calls[strings.TrimPrefix(key, "cmdstat_")] = calls
		}
		if err != nil {
			return redisInfo{}, fmt.Errorf("INFO line %q: %w", line, err)
		}
	}
	if info.TotalCommands < 0 || info.Clients < 0 {
		return redisInfo{}, fmt.Errorf("INFO reply without total_commands_processed or connected_clients")
	}
	return info, nil
}

// cmdstatCalls returns the calls= field of a commandstats value.
func cmdstatCalls(value string) (int64, error) {
	for field := range strings.SplitSeq(value, ",") {
		if v, ok := strings.CutPrefix(field, "calls="); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no calls= field")
}

// commandCount is the number of calls of one command during a window.
type commandCount struct {
	Command string `json:"command"`
	Calls   int64  `json:"calls"`
}

// callsBetween returns the calls made between two INFO snapshots, by
// command, largest first, without the ones listed in own (the measuring
// connection's commands, subtracted per command). Commands that were not
// called are left out.
func callsBetween(before, after redisInfo, own map[string]int64) []commandCount {
	var out []commandCount
	for cmd, n := range after.Calls {
		if d := n - before.Calls[cmd] - own[cmd]; d > 0 {
			out = append(out, commandCount{Command: cmd, Calls: d})
		}
	}
	slices.SortFunc(out, func(a, b commandCount) int {
		if c := cmp.Compare(b.Calls, a.Calls); c != 0 {
			return c
		}
		return strings.Compare(a.Command, b.Command)
	})
	return out
}

// commandsString is "ping×1, config|get×1" (or "none").
func commandsString(cs []commandCount) string {
	if len(cs) == 0 {
		return "none"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s×%d", c.Command, c.Calls)
	}
	return strings.Join(parts, ", ")
}

// redisClient is one line of CLIENT LIST, reduced to what the report says
// about a connection.
type redisClient struct {
	ID    int64
	Flags string // "N" normal, "P" pub/sub, …
	Sub   int64  // channel subscriptions
	Cmd   string // last command
}

// parseClientList reads a CLIENT LIST reply: one client per line, fields
// "key=value" separated by spaces.
func parseClientList(reply string) ([]redisClient, error) {
	var out []redisClient
	for line := range strings.SplitSeq(strings.TrimSpace(reply), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var c redisClient
		seenID := false
		for field := range strings.FieldsSeq(line) {
			key, value, _ := strings.Cut(field, "=")
			var err error
			switch key {
			case "id":
				c.ID, err = strconv.ParseInt(value, 10, 64)
				seenID = err == nil
			case "flags":
				c.Flags = value
			case "sub":
				c.Sub, err = strconv.ParseInt(value, 10, 64)
			case "cmd":
				c.Cmd = value
			}
			if err != nil {
				return nil, fmt.Errorf("CLIENT LIST line %q: %s: %w", line, key, err)
			}
		}
		if !seenID {
			return nil, fmt.Errorf("CLIENT LIST line %q: no id", line)
		}
		out = append(out, c)
	}
	return out, nil
}
