package kafka

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pushscale/pushscale/sources"
)

// Defaults of Options.
const (
	DefaultFetchMaxWait     = 5 * time.Second
	DefaultMetadataInterval = time.Minute
	DefaultDialTimeout      = 5 * time.Second
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// FetchMaxWait is how long a parked fetch waits at the broker for new
	// data before it is answered empty and sent again; default 5 s. It is
	// the idle cost: one fetch per broker node per FetchMaxWait.
	FetchMaxWait time.Duration
	// MetadataInterval is how often the partition counts of the watched
	// topics are checked, to pick up added partitions (and topics created
	// after their triggers); default 1 minute.
	MetadataInterval time.Duration
	// DialTimeout bounds connecting to a broker; default 5 s.
	DialTimeout time.Duration
}

func (o Options) withDefaults() Options {
	sources.Default(&o.FetchMaxWait, DefaultFetchMaxWait)
	sources.Default(&o.MetadataInterval, DefaultMetadataInterval)
	sources.Default(&o.DialTimeout, DefaultDialTimeout)
	return o
}

// Source serves kafka triggers. It is safe for concurrent use. Its
// endpoints and their sharing are sources.Endpoints'; this package adds
// the config, the reads and the push path (parked fetches).
type Source struct {
	*sources.Broker[Config, *endpoint, *resource]
	opts Options
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family(opts Options) sources.Family {
	return sources.Family{Name: "kafka", Types: Types, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start (the Endpoints').
func New(d sources.Deps, opts Options) *Source {
	s := &Source{opts: opts.withDefaults()}
	s.Broker = sources.NewBroker("kafka", d, ParseConfig, s.binding)
	return s
}

// binding says what t reads: its consumer lag, read at once, then whenever
// a record lands in one of its partitions and as the Scheduler's rules say.
// Triggers on the same cluster with the same credentials share one client;
// triggers whose reads are identical share them.
func (s *Source) binding(t sources.Trigger, c Config) sources.Binding[*endpoint, *resource] {
	id := s.endpointID(c)
	pushOff := s.Deps.PushDisabled(t.Type)
	return sources.Binding[*endpoint, *resource]{
		Endpoint:    id,
		NewEndpoint: func() (*endpoint, error) { return newEndpoint(s, id, c, pushOff) },
		Resource:    resourceName(c),
		NewResource: func(e *endpoint, rid sources.ResourceID) *resource { return e.newResource(rid, c) },
	}
}

// endpointID names c's connection without secrets: the brokers, the SASL
// mechanism and user, keyed hashes of the password and of the TLS
// material, and the TLS switches.
func (s *Source) endpointID(c Config) string {
	servers := slices.Clone(c.BootstrapServers)
	slices.Sort(servers)
	var b strings.Builder
	fmt.Fprintf(&b, "kafka://%s sasl=%s user=%q auth=%s", strings.Join(servers, ","), c.SASL, c.Username, s.Hash(c.password))
	if !c.TLS {
		b.WriteString(" tls=off")
	} else {
		f := c.tls
		fmt.Fprintf(&b, " tls=on unsafe=%t pki=%s", c.UnsafeSSL, s.Hash(f.ca+"\x00"+f.cert+"\x00"+f.key+"\x00"+f.keyPassword))
	}
	return b.String()
}

// resourceName names c's read: every field that shapes its value,
// quoted so that no two distinct reads share a name. The activation
// threshold is part of it because the value served depends on it (see
// served) and so does pausing the resource's partitions.
func resourceName(c Config) string {
	limit := "all"
	if c.PartitionLimitation != nil {
		limit = fmt.Sprint(c.PartitionLimitation)
	}
	return fmt.Sprintf("group %q topic %q partitions %s lagThreshold %d activation %d reset %s idle=%t persistent=%t zeroOnInvalid=%t withLag=%t even=%t",
		c.ConsumerGroup, c.Topic, limit, c.LagThreshold, c.ActivationLagThreshold, c.OffsetResetPolicy,
		c.AllowIdleConsumers, c.ExcludePersistentLag, c.ScaleToZeroOnInvalidOffset, c.LimitToPartitionsWithLag,
		c.EnsureEvenDistributionOfPartitions)
}
