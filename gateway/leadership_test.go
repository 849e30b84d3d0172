package gateway

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"

	"github.com/pushscale/pushscale/certs"
)

func TestAdvertisedAddress(t *testing.T) {
	any8080 := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41000}
	for _, tc := range []struct {
		name, flag, podIP string
		ln                net.Addr
		want              string
	}{
		{name: "the flag wins", flag: "10.0.0.9", podIP: "10.0.0.1", ln: any8080, want: "10.0.0.9:8080"},
		{name: "POD_IP", podIP: "10.0.0.1", ln: any8080, want: "10.0.0.1:8080"},
		{name: "IPv6 POD_IP", podIP: "fd00::1", ln: any8080, want: "[fd00::1]:8080"},
		{name: "the listener's own IP", ln: loop, want: "127.0.0.1:41000"},
		{name: "nothing known on a wildcard listener", ln: any8080, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := advertisedAddress(tc.flag, tc.podIP, tc.ln); got != tc.want {
				t.Fatalf("advertisedAddress = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPeerTLS: a standby forwards over HTTPS to a leader that presents the
// chain it serves itself (the replicas share one), and refuses any other,
// or any at all when it has none yet.
func TestPeerTLS(t *testing.T) {
	holder := func(host string) *certs.Holder {
		t.Helper()
		certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, []net.IP{net.ParseIP("127.0.0.1")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := certs.NewHolder("webhook")
		if err := h.Set(certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
		return h
	}
	ours, theirs := holder("pushscale-webhook"), holder("pushscale-webhook")
	// Not httptest's StartTLS: it adds a certificate of its own, which
	// wins over GetCertificate for a client that sends no server name.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ours.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }),
		ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "https://" + ln.Addr().String()
	for _, tc := range []struct {
		name string
		h    *certs.Holder
		ok   bool
	}{{"the shared chain", ours, true}, {"another chain", theirs, false}, {"no certificate yet", certs.NewHolder("webhook"), false}} {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: peerTLS(tc.h)}, Timeout: 5 * time.Second}
			resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
			if err == nil {
				resp.Body.Close()
			}
			if got := err == nil && resp.StatusCode == http.StatusAccepted; got != tc.ok {
				t.Fatalf("forwarded: %v (error %v), want %v", got, err, tc.ok)
			}
		})
	}
}
