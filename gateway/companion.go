package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/pushscale/pushscale/certs"
	"github.com/pushscale/pushscale/companion"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// The values of --mode.
const (
	// ModeStandalone is pushscale as KEDA's replacement: controllers,
	// HPAs and the external metrics API (the default).
	ModeStandalone = "standalone"
	// ModeCompanion is pushscale beside KEDA: the sources, the webhook
	// streams and the external scaler server only (package companion). No
	// ScaledObject or ScaledJob is read, no APIService served or patched,
	// no admission webhook served: KEDA keeps all of them. Leader election
	// stays as in standalone mode (--leader-elect): the leader saves the
	// webhook levels, standbys forward webhook POSTs to it and follow the
	// saved levels; every replica serves the external scaler from its own
	// sources (a standby's webhook values lag by the save interval).
	ModeCompanion = "companion"
)

func (o Options) companion() bool { return o.Mode == ModeCompanion }

// companionDefaults makes companion mode leave KEDA's objects alone: the
// managed certificate's CA is patched into no APIService (KEDA's serves
// external.metrics.k8s.io) and no webhook configuration.
func (o *Options) companionDefaults() {
	if o.Mode == "" {
		o.Mode = ModeStandalone
	}
	if o.companion() {
		o.APIServiceName, o.AdmissionWebhookConfiguration = "", ""
	}
}

// validateCompanion checks --mode and the external scaler's options.
func (o Options) validateCompanion() []error {
	var errs []error
	switch o.Mode {
	case "", ModeStandalone, ModeCompanion:
	default:
		errs = append(errs, fmt.Errorf("--mode %q: must be standalone or companion", o.Mode))
	}
	if o.companion() {
		if o.ExternalScalerAddr == "" {
			errs = append(errs, errors.New("--mode=companion needs --external-scaler-addr: KEDA reaches pushscale's sources through it"))
		}
		if o.AdmissionAddr != "" {
			errs = append(errs, errors.New("--admission-addr: not in companion mode (KEDA validates its ScaledObjects itself)"))
		}
	}
	if o.ExternalScalerAddr != "" {
		if _, _, err := net.SplitHostPort(o.ExternalScalerAddr); err != nil {
			errs = append(errs, fmt.Errorf("--external-scaler-addr %q: %w", o.ExternalScalerAddr, err))
		}
		if o.ExternalScalerClientCAFile == "" {
			errs = append(errs, errors.New("--external-scaler-addr needs --external-scaler-client-ca-file: only callers with a client certificate from that CA (KEDA's operator) may make pushscale connect to brokers"))
		}
	}
	if o.ExternalScalerMaxTriggers < 0 || o.ExternalScalerMaxTriggersPerNamespace < 0 || o.ExternalScalerIdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("--external-scaler-max-triggers %d / --external-scaler-max-triggers-per-namespace %d / --external-scaler-idle-timeout %v: must not be negative",
			o.ExternalScalerMaxTriggers, o.ExternalScalerMaxTriggersPerNamespace, o.ExternalScalerIdleTimeout))
	}
	return errs
}

// externalScaler is the external scaler server of --external-scaler-addr
// on ln, presenting the certificate of h (the managed one, the metrics
// API's files, or a self-signed one).
func newExternalScaler(opts Options, ln net.Listener, h *certs.Holder, cfg *rest.Config, mgr *sources.Manager, st *store.Store, log *slog.Logger, reg prometheus.Registerer) (*companion.Server, error) {
	tlsCfg, err := companion.ServerTLS(h.GetCertificate, opts.ExternalScalerClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	auth, err := companion.NewKubeAuth(cfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return companion.New(companion.Options{
		Listener: ln, TLS: tlsCfg, Sources: mgr, Store: st, Auth: auth,
		Namespace:   opts.WatchNamespace,
		MaxTriggers: opts.ExternalScalerMaxTriggers, MaxTriggersPerNamespace: opts.ExternalScalerMaxTriggersPerNamespace,
		IdleTimeout: opts.ExternalScalerIdleTimeout,
		Logger:      log, Metrics: companion.NewMetrics(reg),
	}), nil
}
