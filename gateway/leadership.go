package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/pushscale/pushscale/certs"
	"github.com/pushscale/pushscale/leader"
)

// leadership is the controller's view of the election: Leading is the
// Elector's, and Elected closes once the Elector elected this replica
// and the saved webhook levels were read once more (promote), so the
// first decisions of a takeover see the last levels the old leader saved.
type leadership struct {
	*leader.Elector
	promoted chan struct{}
}

func (l *leadership) Elected() <-chan struct{} { return l.promoted }

// newElector is the leader election of opts: a campaign for the Lease
// with --leader-elect, else a replica that always leads. webhook is the
// bound webhook listener, whose port (and IP, when bound to one) the
// published address takes.
func newElector(opts Options, kube kubernetes.Interface, webhook net.Addr, log *slog.Logger, reg prometheus.Registerer) (*leader.Elector, error) {
	if !opts.LeaderElect {
		return leader.Always(reg), nil
	}
	return leader.New(leader.Options{
		Client: kube, Namespace: opts.ClusterObjectNamespace, Name: leader.LeaseName,
		Address:       advertisedAddress(opts.AdvertiseAddress, os.Getenv("POD_IP"), webhook),
		LeaseDuration: opts.LeaderElectLeaseDuration, RenewDeadline: opts.LeaderElectRenewDeadline, RetryPeriod: opts.LeaderElectRetryPeriod,
		Logger: log.With("component", "leader"), Registerer: reg,
	})
}

// advertisedAddress is where the other replicas reach this one's webhook
// listener: --advertise-address, else $POD_IP, else the listener's own IP
// when it is bound to one; with the listener's port. "": none known (the
// standbys then answer 503 while this replica leads).
func advertisedAddress(flag, podIP string, webhook net.Addr) string {
	tcp, ok := webhook.(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := flag
	if host == "" {
		host = podIP
	}
	if host == "" && !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	if host == "" {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// webhookHandler serves the webhook streams: hook itself without leader
// election, else a Forwarder that serves them while this replica leads
// and forwards them to the leader otherwise (over HTTPS when the webhook
// listener serves TLS: the leader's certificate is verified against this
// replica's own, which comes from the same Secret or files).
func webhookHandler(opts Options, hook http.Handler, elector *leader.Elector, tlsCert *certs.Holder, log *slog.Logger, reg prometheus.Registerer) http.Handler {
	if !opts.LeaderElect {
		return hook
	}
	fo := leader.ForwarderOptions{
		Local: hook, Leadership: elector, Identity: elector.Identity(),
		MaxInFlight: opts.WebhookMaxInFlight, RetryAfter: time.Second,
		Logger: log.With("component", "forwarder"), Registerer: reg,
	}
	if tlsCert != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		t.ResponseHeaderTimeout = 10 * time.Second
		t.TLSClientConfig = peerTLS(tlsCert)
		fo.Scheme, fo.Transport = "https", t
	}
	return leader.NewForwarder(fo)
}

// peerTLS trusts a peer that presents the certificate chain h serves (the
// replicas share one): the chain's certificates are the roots, read at
// each handshake so a rotation is followed. The leader is reached by its
// IP, which the certificate does not name, so names are not checked.
func peerTLS(h *certs.Holder) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified below, against the roots of the moment.
		InsecureSkipVerify: true, //nolint:gosec // VerifyConnection verifies the chain
		VerifyConnection: func(cs tls.ConnectionState) error {
			certPEM, _ := h.CurrentCertKeyContent()
			roots := x509.NewCertPool()
			if len(certPEM) == 0 || !roots.AppendCertsFromPEM(certPEM) {
				return errors.New("gateway: no serving certificate to verify the leader's with")
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("gateway: the leader presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		},
	}
}
