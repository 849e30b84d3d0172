package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// ManagedByLabel marks the certificate Secret as written by the gateway.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// Services whose in-cluster names the serving certificate carries by
// default (DefaultDNSNames).
var Services = []string{"pushscale-metrics-api", "pushscale-admission", "pushscale-webhook"}

// DefaultDNSNames are <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local for
// each of Services in namespace.
func DefaultDNSNames(namespace string) []string {
	var names []string
	for _, svc := range Services {
		names = append(names, svc+"."+namespace+".svc", svc+"."+namespace+".svc.cluster.local")
	}
	return names
}

// Options configure a Manager.
type Options struct {
	// Kube reads and writes the Secret and the
	// ValidatingWebhookConfiguration; Dynamic the APIService (nil: no
	// APIService is patched).
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Namespace and SecretName name the certificate Secret.
	Namespace, SecretName string
	// Lifetime is the serving certificate's; the CA lives caLifetimes
	// times as long.
	Lifetime time.Duration
	// DNSNames are the serving certificate's names.
	DNSNames []string
	// APIServiceName and WebhookConfigurationName are the objects whose
	// caBundle is kept equal to ca.crt; "" skips one.
	APIServiceName, WebhookConfigurationName string
	// Holder receives the serving pair.
	Holder *Holder
	// Clock defaults to the real clock; Logger to discarding; Metrics may
	// be nil.
	Clock   clock.WithTicker
	Logger  *slog.Logger
	Metrics *Metrics
}

func (o Options) validate() error {
	var errs []error
	if o.Kube == nil || o.Holder == nil {
		errs = append(errs, errors.New("certs: Kube and Holder are required"))
	}
	if o.Namespace == "" || o.SecretName == "" {
		errs = append(errs, fmt.Errorf("certs: secret %q in namespace %q: both must be set", o.SecretName, o.Namespace))
	}
	if o.Lifetime < time.Minute {
		errs = append(errs, fmt.Errorf("certs: lifetime %v: must be at least 1m", o.Lifetime))
	}
	if len(o.DNSNames) == 0 {
		errs = append(errs, errors.New("certs: no DNS names"))
	}
	if o.APIServiceName != "" && o.Dynamic == nil {
		errs = append(errs, errors.New("certs: an APIService name needs a dynamic client"))
	}
	return errors.Join(errs...)
}

// Manager keeps the certificate Secret current, the Holder serving it and
// the caBundles equal to its CA. Create it with New and run it with Start,
// once.
type Manager struct {
	opts  Options
	clock clock.WithTicker
	log   *slog.Logger
	kick  chan struct{}
	inj   *injector
}

// New returns a Manager for opts; it does no I/O.
func New(opts Options) (*Manager, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, clock: opts.Clock, log: opts.Logger, kick: make(chan struct{}, 1)}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.inj = newInjector(opts, m.log, m.trigger)
	return m, nil
}

// checkInterval is the longest wait between two checks of the Secret:
// min(lifetime/6, 1h), so a rotation missed by the watch is still made
// well within the last third of the lifetime.
func (m *Manager) checkInterval() time.Duration {
	return min(m.opts.Lifetime/6, time.Hour)
}

// trigger asks for a check soon. A check already pending covers this one,
// so dropping the signal is harmless.
func (m *Manager) trigger() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Start checks the Secret now, whenever it or one of the patched objects
// changes, at least every checkInterval and when the certificate is due,
// until ctx is done; then it stops its watches, waits for them and returns
// nil. Apiserver errors are logged and retried with backoff, never
// returned.
func (m *Manager) Start(ctx context.Context) error {
	stopWatches := m.inj.watch(ctx, m.opts.Kube, m.opts.Namespace, m.opts.SecretName)
	defer stopWatches()
	retry := time.Second
	for {
		wait, err := m.reconcile(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.log.Warn("certificates: check failed; retrying", "err", err, "in", retry)
			wait, retry = retry, min(2*retry, m.checkInterval())
		} else {
			retry = time.Second
		}
		t := m.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-m.kick:
		case <-t.C():
		}
		t.Stop()
	}
}

// reconcile makes the Secret usable and current, serves it and injects its
// CA; it returns how long until the next check.
func (m *Manager) reconcile(ctx context.Context) (time.Duration, error) {
	b, err := m.ensureSecret(ctx)
	if err != nil {
		return 0, err
	}
	if err := m.opts.Holder.Set(b.certPEM, b.keyPEM); err != nil {
		return 0, err
	}
	if err := m.inj.inject(ctx, b.caPEM); err != nil {
		return 0, err
	}
	wait := min(m.checkInterval(), b.renewAt(m.opts.Lifetime).Sub(m.clock.Now()))
	return max(wait, time.Second), nil
}

// ensureSecret returns the Secret's bundle, first writing a new one when
// it is missing, unusable, for other names or due. Writes are optimistic:
// a Secret created or updated meanwhile (by another replica) fails ours
// with AlreadyExists or Conflict, and the next round reads and uses it.
func (m *Manager) ensureSecret(ctx context.Context) (*bundle, error) {
	secrets := m.opts.Kube.CoreV1().Secrets(m.opts.Namespace)
	for range 5 {
		now := m.clock.Now()
		sec, err := secrets.Get(ctx, m.opts.SecretName, metav1.GetOptions{})
		missing := apierrors.IsNotFound(err)
		if err != nil && !missing {
			return nil, fmt.Errorf("certs: read Secret %s/%s: %w", m.opts.Namespace, m.opts.SecretName, err)
		}
		var prev *bundle
		reason := "missing"
		if !missing {
			var perr error
			if prev, perr = parseBundle(sec.Data); perr != nil {
				reason = "unusable: " + perr.Error()
			} else if reason = prev.needsRenewal(now, m.opts.Lifetime, m.opts.DNSNames); reason == "" {
				return prev, nil
			}
		}
		next, err := newBundle(now, m.opts.Lifetime, m.opts.DNSNames, prev)
		if err != nil {
			return nil, err
		}
		if missing {
			_, err = secrets.Create(ctx, m.newSecret(next), metav1.CreateOptions{})
		} else {
			upd := sec.DeepCopy()
			upd.Data = next.data()
			if upd.Labels == nil {
				upd.Labels = map[string]string{}
			}
			upd.Labels[ManagedByLabel] = "pushscale"
			_, err = secrets.Update(ctx, upd, metav1.UpdateOptions{})
		}
		switch {
		case apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err):
			m.log.Debug("certificates: another writer changed the Secret first; reading theirs", "secret", m.opts.SecretName)
			continue
		case err != nil:
			return nil, fmt.Errorf("certs: write Secret %s/%s: %w", m.opts.Namespace, m.opts.SecretName, err)
		}
		m.opts.Metrics.rotated()
		m.log.Info("certificates: issued a serving certificate", "secret", m.opts.SecretName, "namespace", m.opts.Namespace,
			"reason", reason, "serial", next.cert.SerialNumber.Text(16), "notAfter", next.cert.NotAfter,
			"caNotAfter", next.ca.NotAfter, "newCA", prev == nil || !prev.ca.Equal(next.ca))
		return next, nil
	}
	return nil, fmt.Errorf("certs: Secret %s/%s kept changing under us", m.opts.Namespace, m.opts.SecretName)
}

func (m *Manager) newSecret(b *bundle) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: m.opts.SecretName, Namespace: m.opts.Namespace,
			Labels: map[string]string{ManagedByLabel: "pushscale"},
		},
		Type: secretTLS,
		Data: b.data(),
	}
}
