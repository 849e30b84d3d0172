package redistest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// numSlots is the number of hash slots of a Redis Cluster.
const numSlots = 16384

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id        string
	addr      string // host:port, without the bus port or hostname
	flags     []string
	masterID  string // the primary's id for a replica, else "-"
	linkState string
	slots     []slotRange
	migrating bool // an [slot->-id] or [slot-<-id] entry is present
}

// slotRange is an inclusive range of slots.
type slotRange struct{ from, to int }

func (n clusterNode) has(flag string) bool { return slices.Contains(n.flags, flag) }

func (n clusterNode) primary() bool { return n.has("master") }

func (n clusterNode) ownsSlot(slot int) bool {
	for _, r := range n.slots {
		if slot >= r.from && slot <= r.to {
			return true
		}
	}
	return false
}

// parseClusterNodes parses the reply of CLUSTER NODES:
//
//	<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot> ...
func parseClusterNodes(reply string) ([]clusterNode, error) {
	var nodes []clusterNode
	for line := range strings.Lines(reply) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: too few fields", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",")
		n := clusterNode{id: f[0], addr: addr, flags: strings.Split(f[2], ","), masterID: f[3], linkState: f[7]}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				n.migrating = true
				continue
			}
			r, err := parseSlotRange(s)
			if err != nil {
				return nil, fmt.Errorf("CLUSTER NODES line %q: %w", line, err)
			}
			n.slots = append(n.slots, r)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func parseSlotRange(s string) (slotRange, error) {
	from, to, isRange := strings.Cut(s, "-")
	if !isRange {
		to = from
	}
	a, err1 := strconv.Atoi(from)
	b, err2 := strconv.Atoi(to)
	if err1 != nil || err2 != nil || a > b {
		return slotRange{}, fmt.Errorf("bad slot range %q", s)
	}
	return slotRange{a, b}, nil
}

// topologyKey renders what every node must agree on, independent of the
// node reporting it: ids, addresses, roles, primaries, slots and failure
// flags.
func topologyKey(nodes []clusterNode) string {
	lines := make([]string, 0, len(nodes))
	for _, n := range nodes {
		role := "replica"
		if n.primary() {
			role = "primary"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s %s", n.id, n.addr, role, n.masterID)
		for _, fl := range []string{"fail", "fail?", "handshake", "noaddr"} {
			if n.has(fl) {
				b.WriteString(" " + fl)
			}
		}
		for _, r := range n.slots {
			fmt.Fprintf(&b, " %d-%d", r.from, r.to)
		}
		lines = append(lines, b.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// nodeByAddr returns the node of view with address addr.
func nodeByAddr(view []clusterNode, addr string) (clusterNode, bool) {
	i := slices.IndexFunc(view, func(n clusterNode) bool { return n.addr == addr })
	if i < 0 {
		return clusterNode{}, false
	}
	return view[i], true
}

// slotOwner returns the primary of view that serves slot.
func slotOwner(view []clusterNode, slot int) (clusterNode, bool) {
	i := slices.IndexFunc(view, func(n clusterNode) bool { return n.primary() && n.ownsSlot(slot) })
	if i < 0 {
		return clusterNode{}, false
	}
	return view[i], true
}

// keySlot returns the hash slot of key: CRC16 (XMODEM) of the key, or of
// its hash tag (the part between the first "{" and the next "}", when not
// empty), modulo 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key)) % numSlots
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
