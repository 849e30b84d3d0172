package companion

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	pb "github.com/pushscale/pushscale/api/externalscaler"
)

// The metadata keys of a KEDA trigger that pushscale reads itself; every
// other key (scalerAddress excepted) is the pushscale trigger's metadata.
const (
	// KeyType names the pushscale trigger type ("webhook", "redis", ...).
	KeyType = "pushscaleType"
	// KeyAuthenticationRef names a TriggerAuthentication in the
	// ScaledObject's namespace whose parameters the trigger uses.
	KeyAuthenticationRef = "pushscaleAuthenticationRef"
	// KeyPollingInterval is the trigger's pollingInterval in seconds
	// (KEDA forwards metadata only, not the ScaledObject's
	// pollingInterval); default 30, as KEDA's.
	KeyPollingInterval = "pushscalePollingInterval"
	// keyScalerAddress is KEDA's own key, dropped.
	keyScalerAddress = "scalerAddress"
)

// Limits on one request's metadata: an authenticated caller is still
// not trusted with unbounded input.
const (
	maxMetadataKeys  = 64
	maxMetadataBytes = 16 << 10
)

// DefaultPollingInterval is KEDA's default pollingInterval.
const DefaultPollingInterval = 30 * time.Second

// request is a ScaledObjectRef taken apart: who asks, for which pushscale
// trigger. Its fields come from the caller: errors name fields, never
// values of metadata that may be secret.
type request struct {
	namespace, name string
	typ             string
	authRef         string
	polling         time.Duration
	// metadata is the pushscale trigger's own metadata (the keys above
	// and scalerAddress removed).
	metadata map[string]string
	// id identifies the (namespace, name, metadata) triple.
	id string
}

// parseRef validates ref. Errors name the field at fault and show only
// values that are not secret (names, the type, the interval).
func parseRef(ref *pb.ScaledObjectRef) (request, error) {
	if ref == nil {
		return request{}, fmt.Errorf("scaledObjectRef: missing")
	}
	r := request{namespace: ref.GetNamespace(), name: ref.GetName()}
	if msgs := validation.IsDNS1123Label(r.namespace); len(msgs) > 0 {
		return request{}, fmt.Errorf("scaledObjectRef.namespace %q: %s", clip(r.namespace), msgs[0])
	}
	if msgs := validation.IsDNS1123Subdomain(r.name); len(msgs) > 0 {
		return request{}, fmt.Errorf("scaledObjectRef.name %q: %s", clip(r.name), msgs[0])
	}
	md := ref.GetScalerMetadata()
	if len(md) > maxMetadataKeys {
		return request{}, fmt.Errorf("scalerMetadata: %d keys, at most %d", len(md), maxMetadataKeys)
	}
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
	}
	if size > maxMetadataBytes {
		return request{}, fmt.Errorf("scalerMetadata: %d bytes, at most %d", size, maxMetadataBytes)
	}
	r.typ = md[KeyType]
	if r.typ == "" {
		return request{}, fmt.Errorf("scalerMetadata.%s: missing: name the pushscale trigger type (e.g. webhook, redis)", KeyType)
	}
	if msgs := validation.IsDNS1123Label(r.typ); len(msgs) > 0 {
		return request{}, fmt.Errorf("scalerMetadata.%s %q: not a trigger type", KeyType, clip(r.typ))
	}
	if r.authRef = md[KeyAuthenticationRef]; r.authRef != "" {
		if msgs := validation.IsDNS1123Subdomain(r.authRef); len(msgs) > 0 {
			return request{}, fmt.Errorf("scalerMetadata.%s %q: %s (a TriggerAuthentication in the ScaledObject's namespace; ClusterTriggerAuthentications are not served)", KeyAuthenticationRef, clip(r.authRef), msgs[0])
		}
	}
	r.polling = DefaultPollingInterval
	if s, ok := md[KeyPollingInterval]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 86400 {
			return request{}, fmt.Errorf("scalerMetadata.%s %q: must be a whole number of seconds from 1 to 86400", KeyPollingInterval, clip(s))
		}
		r.polling = time.Duration(n) * time.Second
	}
	r.metadata = make(map[string]string, len(md))
	for k, v := range md {
		switch k {
		case KeyType, KeyAuthenticationRef, KeyPollingInterval, keyScalerAddress:
		default:
			r.metadata[k] = v
		}
	}
	r.id = identity(r.namespace, r.name, md)
	return r, nil
}

// identity hashes namespace, name and the whole metadata (scalerAddress
// included: two addresses of one pushscale are two callers' views) into
// a fixed-size id. Lengths are written before each string, so no two
// different inputs share an encoding.
func identity(namespace, name string, md map[string]string) string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(namespace)
	put(name)
	for _, k := range slices.Sorted(maps.Keys(md)) {
		put(k)
		put(md[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// clip shortens a caller's value for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
