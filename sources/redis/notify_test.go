package redis

import "testing"

func TestParseClasses(t *testing.T) {
	for _, tt := range []struct{ flags, want string }{
		{"", ""},
		{"AKE", "KEg$lshzxetd"},
		{"glxK", "Kglx"},
		{"Kl", "Kl"},
		{"KA", "Kg$lshzxetd"},
		{"KEA", "KEg$lshzxetd"},
		{"Ktm", "Ktm"},
	} {
		if got := parseClasses(tt.flags); string(got) != tt.want {
			t.Errorf("parseClasses(%q) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}

func TestRequiredAndMissing(t *testing.T) {
	for _, tt := range []struct {
		name  string
		kind  resKind
		typ   string
		flags string
		miss  string
	}{
		{"list, nothing set", readList, "none", "", "Kglx"},
		{"list, Kl", readList, "list", "Kl", "gx"},
		{"list, Klgx", readList, "list", "Klgx", ""},
		{"list, A without K", readList, "list", "AE", "K"},
		{"list, KA", readList, "none", "KA", ""},
		{"set needs s", readList, "set", "Klgx", "s"},
		{"zset needs z", readList, "zset", "KA", ""},
		{"hash needs h", readList, "hash", "Kglx", "h"},
		{"stream needs t", readXLen, "", "Klgx", "t"},
		{"pending, KA", readXPending, "", "AK", ""},
		{"lag, Kt", readXLag, "", "Kt", "gx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			need := required(tt.kind, tt.typ)
			if got := parseClasses(tt.flags).missing(need); string(got) != tt.miss {
				t.Errorf("missing = %q, want %q", got, tt.miss)
			}
		})
	}
}

func TestMergeFlags(t *testing.T) {
	for _, tt := range []struct{ flags, need, want string }{
		{"", "Kglx", "Kglx"},
		{"Es", "Kglx", "EsKglx"},
		{"AE", "Kglx", "AEK"},
		{"KA", "Kgtx", "KA"},
		{"Kl", "Kglsx", "Klgsx"},
	} {
		if got := mergeFlags(tt.flags, classes(tt.need)); got != tt.want {
			t.Errorf("mergeFlags(%q, %q) = %q, want %q", tt.flags, tt.need, got, tt.want)
		}
		if miss := parseClasses(mergeFlags(tt.flags, classes(tt.need))).missing(classes(tt.need)); miss != "" {
			t.Errorf("mergeFlags(%q, %q) still misses %q", tt.flags, tt.need, miss)
		}
	}
}

func TestAdditive(t *testing.T) {
	for _, tt := range []struct {
		kind resKind
		ev   string
		want bool
	}{
		{readList, "lpush", true},
		{readList, "rpush", true},
		{readList, "linsert", true},
		{readList, "sadd", true},
		{readList, "zadd", true},
		{readList, "hset", true},
		{readList, "lpop", false},
		{readList, "rpop", false},
		{readList, "lrem", false},
		{readList, "ltrim", false},
		{readList, "lset", false},
		{readList, "del", false},
		{readList, "expired", false},
		{readList, "evicted", false},
		{readList, "rename_to", false},
		{readList, "rename_from", false},
		{readList, "lmove", false},
		{readList, "rpoplpush", false},
		{readList, "xadd", false},
		{readXLen, "xadd", true},
		{readXLag, "xadd", true},
		{readXPending, "xadd", false},
		{readXLen, "xtrim", false},
		{readXLen, "xdel", false},
		{readXLag, "xgroup-create", false},
		{readXLen, "lpush", false},
	} {
		if got := additive(tt.kind, tt.ev); got != tt.want {
			t.Errorf("additive(%d, %q) = %v, want %v", tt.kind, tt.ev, got, tt.want)
		}
	}
}

func TestKeyspaceChannel(t *testing.T) {
	if got := keyspaceChannel(3, "a:b"); got != "__keyspace@3__:a:b" {
		t.Errorf("keyspaceChannel = %q", got)
	}
}

func TestSlotOf(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 % slotCount}, // the CRC16/XMODEM check value
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", slotOf("user1000")},
		{"{user1000}.followers", slotOf("user1000")},
		{"foo{}{bar}", slotOf("foo{}{bar}")}, // an empty tag hashes the whole key
		{"foo{{bar}}zap", slotOf("{bar")},
		{"", 0},
	} {
		if got := slotOf(tt.key); got != tt.want {
			t.Errorf("slotOf(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if crc16("123456789") != 0x31C3 {
		t.Errorf("crc16 check value = %#x", crc16("123456789"))
	}
}

func TestTopologyOwner(t *testing.T) {
	topo := topology{known: true, slots: []slotRange{{0, 5460, "a:1"}, {5461, 10922, "b:1"}, {10923, 16383, "c:1"}}}
	for key, want := range map[string]string{"foo": "c:1", "bar": "a:1", "123456789": "c:1", "{c}x": "b:1", "c": "b:1"} {
		if got := topo.owner(key); got != want {
			t.Errorf("owner(%q) = %q, want %q (slot %d)", key, got, want, slotOf(key))
		}
	}
	gap := topology{known: true, slots: []slotRange{{0, 100, "a:1"}}}
	if got := gap.owner("foo"); got != "" {
		t.Errorf("owner of an unassigned slot = %q", got)
	}
	if got := (topology{known: true, master: "m:1"}).owner("x"); got != "m:1" {
		t.Errorf("owner on a single master = %q", got)
	}
}
