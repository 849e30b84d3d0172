package companion

import (
	"strings"
	"testing"
	"time"

	pb "github.com/pushscale/pushscale/api/externalscaler"
)

func TestParseRef(t *testing.T) {
	md := map[string]string{
		"scalerAddress": "pushscale:9443", KeyType: "redis", KeyAuthenticationRef: "redis-auth",
		KeyPollingInterval: "60", "address": "redis:6379", "listName": "jobs",
	}
	r, err := parseRef(&pb.ScaledObjectRef{Namespace: "team-a", Name: "worker", ScalerMetadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if r.typ != "redis" || r.authRef != "redis-auth" || r.polling != time.Minute || len(r.metadata) != 2 || r.metadata["listName"] != "jobs" {
		t.Fatalf("parsed %+v", r)
	}
	other, _ := parseRef(&pb.ScaledObjectRef{Namespace: "team-b", Name: "worker", ScalerMetadata: md})
	if other.id == r.id {
		t.Fatal("two namespaces share an id")
	}
	// Lengths are part of the encoding: shifting a boundary changes the id.
	if identity("ab", "c", nil) == identity("a", "bc", nil) {
		t.Fatal("ambiguous identity encoding")
	}
}

// FuzzParseRef: whatever a caller sends, parseRef does not panic, its
// errors depend on no metadata value of a key it does not read itself, and
// an accepted request is deterministic and keeps none of pushscale's keys
// in the trigger's metadata.
func FuzzParseRef(f *testing.F) {
	f.Add("team-a", "worker", "pushscaleType=webhook\nstream=jobs\ntargetValue=2\npassword=hunter2")
	f.Add("team-a", "worker", "pushscaleType=redis\npushscaleAuthenticationRef=auth\npushscalePollingInterval=5\naddress=r:6379")
	f.Add("", "", "pushscaleType=\npushscalePollingInterval=-1")
	f.Add("UPPER", "x", "pushscaleType=Web Hook")
	f.Fuzz(func(t *testing.T, ns, name, lines string) {
		md := map[string]string{}
		for l := range strings.SplitSeq(lines, "\n") {
			k, v, _ := strings.Cut(l, "=")
			md[k] = v
		}
		ref := &pb.ScaledObjectRef{Namespace: ns, Name: name, ScalerMetadata: md}
		r, err := parseRef(ref)
		// The values of keys parseRef does not read, replaced by as many
		// x's, must give the same answer: they never reach an error.
		masked := map[string]string{}
		for k, v := range md {
			switch k {
			case KeyType, KeyAuthenticationRef, KeyPollingInterval:
				masked[k] = v
			default:
				masked[k] = strings.Repeat("x", len(v))
			}
		}
		_, merr := parseRef(&pb.ScaledObjectRef{Namespace: ns, Name: name, ScalerMetadata: masked})
		if (err == nil) != (merr == nil) || err != nil && err.Error() != merr.Error() {
			t.Fatalf("the answer depends on values it must not show: %v / %v", err, merr)
		}
		if err != nil {
			return
		}
		again, _ := parseRef(ref)
		if again.id != r.id {
			t.Fatal("two ids for one request")
		}
		for _, k := range []string{KeyType, KeyAuthenticationRef, KeyPollingInterval, keyScalerAddress} {
			if _, ok := r.metadata[k]; ok {
				t.Fatalf("%s passed to the trigger", k)
			}
		}
		if r.polling < time.Second {
			t.Fatalf("polling interval %v", r.polling)
		}
	})
}
