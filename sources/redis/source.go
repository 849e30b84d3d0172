package redis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushscale/pushscale/sources"
)

// Defaults of Options.
const (
	DefaultDialTimeout         = 5 * time.Second
	DefaultPoolSize            = 1
	DefaultTopologyInterval    = 5 * time.Second
	DefaultConfigCheckInterval = time.Minute
	DefaultHealthCheckInterval = 30 * time.Second
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// ConfigureNotifications lets the source add the notification classes
	// its triggers need to notify-keyspace-events with CONFIG SET, merged
	// into the flags already set, never replacing them
	// (--redis-configure-notifications). Off: the source only reads the
	// setting, and polls resources it does not cover.
	ConfigureNotifications bool

	// DialTimeout bounds connecting to a server; default 5 s.
	DialTimeout time.Duration
	// PoolSize is the number of connections used for reads per server
	// node, beside its one subscription connection; default 1.
	PoolSize int
	// TopologyInterval is how often a cluster's slot map and a sentinel's
	// master are checked while the endpoint is watched; default 5 s.
	TopologyInterval time.Duration
	// ConfigCheckInterval is how often notify-keyspace-events is read
	// again on a subscribed node (and channels refused earlier are tried
	// again); default 1 minute.
	ConfigCheckInterval time.Duration
	// HealthCheckInterval is how long a subscription connection may be
	// silent before it is PINGed (and twice that before it is dropped),
	// and how often a read connection that tracks keys is PINGed (a
	// connection the server closed would have forgotten them); default
	// 30 s.
	HealthCheckInterval time.Duration
}

func (o Options) withDefaults() Options {
	sources.Default(&o.DialTimeout, DefaultDialTimeout)
	sources.Default(&o.PoolSize, DefaultPoolSize)
	sources.Default(&o.TopologyInterval, DefaultTopologyInterval)
	sources.Default(&o.ConfigCheckInterval, DefaultConfigCheckInterval)
	sources.Default(&o.HealthCheckInterval, DefaultHealthCheckInterval)
	return o
}

// Source serves the six redis trigger types. It is safe for concurrent use.
// Its endpoints and their sharing are sources.Endpoints'; this package adds
// the config, the reads and the push paths (keyspace notifications, client
// tracking).
type Source struct {
	*sources.Broker[Config, *endpoint, *resource]
	opts Options
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family(opts Options) sources.Family {
	return sources.Family{Name: "redis", Types: Types, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start (the Endpoints').
func New(d sources.Deps, opts Options) *Source {
	s := &Source{opts: opts.withDefaults()}
	s.Broker = sources.NewBroker("redis", d, ParseConfig, s.binding)
	return s
}

// binding says what t reads: its list or stream, read at once, then on
// every keyspace notification of its key and as the Scheduler's rules say.
// Triggers on the same endpoint share its connections; triggers reading the
// same thing share its reads.
func (s *Source) binding(t sources.Trigger, c Config) sources.Binding[*endpoint, *resource] {
	id := s.endpointID(c)
	name, kind, key := resourceOf(c)
	pushOff := s.Deps.PushDisabled(t.Type)
	return sources.Binding[*endpoint, *resource]{
		Endpoint:    id,
		NewEndpoint: func() (*endpoint, error) { return newEndpoint(s, id, c) },
		Resource:    name,
		NewResource: func(e *endpoint, rid sources.ResourceID) *resource {
			return e.newResource(rid, kind, key, c.ConsumerGroup, t.Type, pushOff)
		},
	}
}

// endpointID names c's connection without secrets: the deployment kind,
// its addresses, the database, the users, keyed hashes of the passwords
// and of the TLS material, and the TLS switches.
func (s *Source) endpointID(c Config) string {
	addrs := slices.Clone(c.Addresses)
	if c.Kind != Standalone {
		slices.Sort(addrs)
	}
	var b strings.Builder
	b.WriteString("redis-" + c.Kind.String() + "://" + strings.Join(addrs, ","))
	if c.Kind != Cluster {
		b.WriteString("/" + strconv.Itoa(c.DatabaseIndex))
	}
	fmt.Fprintf(&b, " user=%q auth=%s", c.Username, s.Hash(c.password))
	if c.Kind == Sentinel {
		fmt.Fprintf(&b, " master=%q sentinelUser=%q sentinelAuth=%s", c.SentinelMaster, c.SentinelUsername, s.Hash(c.sentinelPassword))
	}
	switch {
	case !c.EnableTLS:
		b.WriteString(" tls=off")
	default:
		fmt.Fprintf(&b, " tls=on unsafe=%t pki=%s", c.UnsafeSSL, s.Hash(c.tls.ca+"\x00"+c.tls.cert+"\x00"+c.tls.key+"\x00"+c.tls.keyPassword))
	}
	return b.String()
}

// resourceOf names what c reads. Names quote the key and group so that no
// two distinct reads share a name.
func resourceOf(c Config) (name string, kind resKind, key string) {
	if !c.Streams {
		return "list " + strconv.Quote(c.ListName), readList, c.ListName
	}
	switch c.Mode {
	case PendingEntries:
		return "xpending " + strconv.Quote(c.Stream) + " " + strconv.Quote(c.ConsumerGroup), readXPending, c.Stream
	case Lag:
		return "xlag " + strconv.Quote(c.Stream) + " " + strconv.Quote(c.ConsumerGroup), readXLag, c.Stream
	default:
		return "xlen " + strconv.Quote(c.Stream), readXLen, c.Stream
	}
}
