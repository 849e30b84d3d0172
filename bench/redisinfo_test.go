package main

import (
	"strings"
	"testing"
)

// infoReply is an INFO stats commandstats clients reply as Redis 7 sends
// it (shortened).
const infoReply = "# Clients\r\n" +
	"connected_clients:3\r\n" +
	"cluster_connections:0\r\n" +
	"blocked_clients:0\r\n" +
	"\r\n" +
	"# Stats\r\n" +
	"total_connections_received:7\r\n" +
	"total_commands_processed:1042\r\n" +
	"instantaneous_ops_per_sec:0\r\n" +
	"\r\n" +
	"# Commandstats\r\n" +
	"cmdstat_ping:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_evalsha:calls=1000,usec=9000,usec_per_call=9.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_config|get:calls=1,usec=20,usec_per_call=20.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_info:calls=3,usec=90,usec_per_call=30.00,rejected_calls=0,failed_calls=0\r\n"

func TestParseRedisInfo(t *testing.T) {
	got, err := parseRedisInfo(infoReply)
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalCommands != 1042 || got.Clients != 3 {
		t.Fatalf("total %d clients %d, want 1042 and 3", got.TotalCommands, got.Clients)
	}
	want := map[string]int64{"ping": 2, "evalsha": 1000, "config|get": 1, "info": 3}
	if len(got.Calls) != len(want) {
		t.Fatalf("calls %v, want %v", got.Calls, want)
	}
	for k, v := range want {
		if got.Calls[k] != v {
			t.Errorf("calls[%q] = %d, want %d", k, got.Calls[k], v)
		}
	}
}

func TestParseRedisInfoErrors(t *testing.T) {
	cases := []struct {
		name, reply, wantErr string
	}{
		{"no counters", "# Stats\r\nuptime_in_seconds:3\r\n", "without total_commands_processed"},
		{"bad number", "connected_clients:x\r\ntotal_commands_processed:1\r\n", "connected_clients:x"},
		{"cmdstat without calls", "connected_clients:1\r\ntotal_commands_processed:1\r\ncmdstat_ping:usec=3\r\n", "no calls= field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRedisInfo(tc.reply)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCallsBetweenSubtractsOwnCommands(t *testing.T) {
	before := redisInfo{Calls: map[string]int64{"info": 1, "ping": 5}}
	after := redisInfo{Calls: map[string]int64{"info": 2, "ping": 6, "evalsha": 30, "config|get": 1}}
	got := callsBetween(before, after, map[string]int64{"info": 1})
	if s := commandsString(got); s != "evalsha×30, config|get×1, ping×1" {
		t.Fatalf("got %q", s)
	}
	if s := commandsString(callsBetween(before, before, nil)); s != "none" {
		t.Fatalf("no calls: %q", s)
	}
}

func TestParseClientList(t *testing.T) {
	reply := "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6380 fd=8 name= age=9 idle=9 flags=P db=0 sub=1000 psub=0 ssub=0 multi=-1 qbuf=0 cmd=subscribe user=default lib-name=go-redis\n" +
		"id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6380 fd=9 name= age=9 idle=4 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 cmd=evalsha user=default\n"
	got, err := parseClientList(reply)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (redisClient{ID: 3, Flags: "P", Sub: 1000, Cmd: "subscribe"}) ||
		got[1] != (redisClient{ID: 4, Flags: "N", Cmd: "evalsha"}) {
		t.Fatalf("got %+v", got)
	}
	if _, err := parseClientList("addr=127.0.0.1:1 flags=N\n"); err == nil {
		t.Fatal("a line without id was accepted")
	}
}
