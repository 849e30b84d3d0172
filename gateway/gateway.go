// Package gateway wires the whole pushscale gateway: the metric store, the
// sources (webhook streams and brokers), the ScaledObject controller and
// activator, the external metrics API, and the HTTP servers. Run is the
// gateway as an embeddable value: cmd/pushscale, the tests and the demo
// all call it.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"

	"github.com/pushscale/pushscale/admission"
	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/companion"
	"github.com/pushscale/pushscale/gateway/clientgo"
	"github.com/pushscale/pushscale/leader"
	"github.com/pushscale/pushscale/metricsapi"
	"github.com/pushscale/pushscale/scaler"
	"github.com/pushscale/pushscale/scaler/kedametrics"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/webhook"
	"github.com/pushscale/pushscale/store"
	"github.com/pushscale/pushscale/version"
)

// Run runs the gateway until ctx is done. It returns nil after a clean
// stop and an error only for what makes the process useless: bad options,
// no apiserver configuration, a port that cannot be bound. Broker and
// apiserver errors at run time are retried and reported on the objects.
func Run(ctx context.Context, opts Options) error {
	if opts.ClusterObjectNamespace == "" {
		opts.ClusterObjectNamespace = os.Getenv("POD_NAMESPACE")
	}
	if opts.ClusterObjectNamespace == "" {
		opts.ClusterObjectNamespace = "pushscale-system"
	}
	opts.certificateDefaults()
	opts.leaderDefaults()
	opts.companionDefaults()
	if err := opts.validate(); err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		log = newLogger(opts.LogLevel)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pushscale_build_info",
		Help: "Always 1: the running build's version, VCS revision and Go version.",
	}, []string{"version", "revision", "goversion"})
	buildInfo.WithLabelValues(version.Version, version.Revision(), runtime.Version()).Set(1)
	reg.MustRegister(buildInfo)
	queueMetrics, err := clientgo.WorkqueueMetrics(reg)
	if err != nil {
		return fmt.Errorf("gateway: workqueue metrics: %w", err)
	}
	defer clientgo.RouteKlog(log)()
	cfg, err := restConfig(opts)
	if err != nil {
		return err
	}
	cfg.Wrap(newKubeRequests(reg).wrap)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}

	// Bind the ports first: a port that cannot be had fails the start.
	webhookLn, err := net.Listen("tcp", opts.WebhookAddr)
	if err != nil {
		return fmt.Errorf("gateway: --webhook-addr %s: %w", opts.WebhookAddr, err)
	}
	defer webhookLn.Close()
	metricsLn, err := net.Listen("tcp", opts.MetricsAddr)
	if err != nil {
		return fmt.Errorf("gateway: --metrics-addr %s: %w", opts.MetricsAddr, err)
	}
	defer metricsLn.Close()

	var admissionLn net.Listener
	if opts.AdmissionAddr != "" {
		if admissionLn, err = net.Listen("tcp", opts.AdmissionAddr); err != nil {
			return fmt.Errorf("gateway: --admission-addr %s: %w", opts.AdmissionAddr, err)
		}
		defer admissionLn.Close()
	}
	var externalScalerLn net.Listener
	if opts.ExternalScalerAddr != "" {
		if externalScalerLn, err = net.Listen("tcp", opts.ExternalScalerAddr); err != nil {
			return fmt.Errorf("gateway: --external-scaler-addr %s: %w", opts.ExternalScalerAddr, err)
		}
		defer externalScalerLn.Close()
	}

	// One writer: the elector campaigns with the plain client; everything
	// that writes for the leader alone (the controller, the level saver)
	// gets a client fenced by it (leader.Fence: writes refused unsent while
	// this replica does not lead). The certificate manager runs on every
	// replica with the plain client: every replica needs the certificate,
	// and its optimistic concurrency makes racing replicas converge on one
	// Secret.
	elector, err := newElector(opts, kube, webhookLn.Addr(), log, reg)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	fencedRequests := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pushscale_leader_fenced_requests_total",
		Help: "Apiserver writes refused unsent because this replica did not lead (expected 0 but while the lease is lost).",
	})
	reg.MustRegister(fencedRequests)
	writerCfg := rest.CopyConfig(cfg)
	writerCfg.Wrap(leader.Fence(elector.Leading, fencedRequests))
	writerKube, err := kubernetes.NewForConfig(writerCfg)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	lead := &leadership{Elector: elector, promoted: make(chan struct{})}
	var ctrlLead scaler.Leadership // nil without election: always leading, as before
	if opts.LeaderElect {
		ctrlLead = lead
	}

	// Built in dependency order: the store and the sources tell the
	// controller, which needs both, through a Notifier it binds.
	notifier := &scaler.Notifier{}
	var ext *companion.Server // set below, before anything can notify
	st := store.New(func(o store.Owner) {
		notifier.Notify(o)
		if ext != nil {
			ext.Notify(o)
		}
	})
	saver := newLevelSaver(writerKube, opts.ClusterObjectNamespace, opts.WebhookSaveInterval, log, reg)
	saver.leading = elector.Leading
	events := webhook.NewEventsCounter()
	reg.MustRegister(events)
	reads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pushscale_broker_reads_total",
		Help: "Authoritative reads of broker resources, by source and reason (hint, poll, repair, reconnect, watch).",
	}, []string{"source", "reason"})
	reg.MustRegister(reads)
	disabled := map[string]bool{}
	for _, t := range opts.DisablePush {
		disabled[strings.TrimSpace(t)] = true
	}
	var hook *webhook.Source
	mgr, err := sources.NewManager(registry(opts, func(d sources.Deps) *webhook.Source {
		o := webhookOptions(opts, d)
		o.Events, o.OnChange = events, saver.changed
		hook = webhook.New(d.Sink, o)
		return hook
	}), sources.ManagerOptions{
		Sink: st, Logger: log, RepairInterval: opts.RepairInterval, Reads: reads, DisablePush: disabled,
		Recheck: notifier.Recheck,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}

	tlsCerts, err := newServingCerts(opts, cfg, kube, log, reg)
	if err != nil {
		return err
	}
	if externalScalerLn != nil {
		if ext, err = newExternalScaler(opts, externalScalerLn, tlsCerts.metricsAPI, cfg, mgr, st, log, reg); err != nil {
			return err
		}
	}
	// Companion mode: no controller, no metrics API (KEDA has both).
	var ctrl *scaler.Controller
	var api *metricsAPI
	if !opts.companion() {
		if ctrl, api, err = newStandalone(opts, cfg, writerCfg, kube, mgr, st, notifier, ctrlLead, tlsCerts, queueMetrics, log, reg); err != nil {
			return err
		}
	}
	ready := readiness(ctrl, api, ext, tlsCerts)

	g, gctx := errgroup.WithContext(ctx)
	// Health first: /healthz answers while the levels load (/readyz waits
	// for the controller).
	metricsSrv := newServer(healthRouter(reg, ready, elector, opts.Profiling), defaultLimits)
	g.Go(func() error { return serve(gctx, metricsSrv, func() error { return metricsSrv.Serve(metricsLn) }) })

	// Levels saved by an earlier run come back before any trigger is
	// watched, so a restart loses no level and scales nothing to zero.
	levels := loadLevels(gctx, saver, log)
	hook.Restore(levels)
	saver.remember(levels)

	// The campaign outlives the group: the lease is released (a graceful
	// stop hands over at once) only after everything else stopped, the
	// last save of the levels included. Losing it stops the gateway.
	electCtx, stopElect := context.WithCancel(context.WithoutCancel(ctx))
	elected := make(chan error, 1)
	go func() { elected <- elector.Start(electCtx) }()
	defer func() { stopElect(); <-elected }()
	g.Go(func() error {
		select {
		case err := <-elected:
			elected <- err // for the deferred wait
			if err != nil {
				return fmt.Errorf("gateway: %w", err)
			}
			return nil
		case <-gctx.Done():
			return nil
		}
	})

	g.Go(func() error { return mgr.Start(gctx) })
	g.Go(func() error {
		// A standby keeps the levels the leader saves; the leader saves.
		if !saver.standby(gctx, hook, elector.Elected()) {
			return nil
		}
		close(lead.promoted)
		return saver.Start(gctx, hook)
	})
	for _, run := range tlsCerts.runners {
		g.Go(func() error { return run(gctx) })
	}
	if ctrl != nil {
		g.Go(func() error { return ctrl.Start(gctx) })
		g.Go(func() error {
			// Serving starts with a certificate: /readyz waits for both.
			if !tlsCerts.waitReady(gctx) {
				return nil
			}
			return api.Start(gctx)
		})
	}
	if ext != nil {
		g.Go(func() error { return ext.Start(gctx) })
	}
	webhookSrv := newServer(webhookHandler(opts, hook.Handler(), elector, tlsCerts.webhook, log, reg), webhookLimits(opts))
	g.Go(func() error {
		if tlsCerts.webhook != nil {
			webhookSrv.TLSConfig = tlsCerts.webhook.TLSConfig()
			return serve(gctx, webhookSrv, func() error { return webhookSrv.ServeTLS(webhookLn, "", "") })
		}
		return serve(gctx, webhookSrv, func() error { return webhookSrv.Serve(webhookLn) })
	})
	if admissionLn != nil {
		validations := kedametrics.NewValidations()
		reg.MustRegister(validations)
		adm := admission.Handler{Logger: log.With("component", "admission"), Reviewed: func(kind, namespace, action string) {
			if kind == kedav1.KindScaledObject { // KEDA counts ScaledObjects only
				validations.WithLabelValues(namespace, action).Inc()
			}
		}}
		mux := http.NewServeMux()
		mux.Handle(admission.ScaledObjectPath, adm)
		mux.Handle(admission.ScaledJobPath, adm)
		admissionSrv := newServer(mux, defaultLimits)
		admissionSrv.TLSConfig = tlsCerts.admission.TLSConfig()
		g.Go(func() error {
			return serve(gctx, admissionSrv, func() error { return admissionSrv.ServeTLS(admissionLn, "", "") })
		})
	}

	log.Info("pushscale gateway started", "mode", opts.Mode, "webhook", webhookLn.Addr().String(), "metrics", metricsLn.Addr().String(), "externalScaler", opts.ExternalScalerAddr,
		"metricsAPI", opts.MetricsAPIAddr, "leaderElect", opts.LeaderElect, "identity", elector.Identity(), "watchNamespace", opts.WatchNamespace, "watchLabelSelector", opts.WatchLabelSelector, "levelsRestored", len(levels))
	err = g.Wait()
	log.Info("pushscale gateway stopped")
	return err
}

// newStandalone builds what standalone mode adds to the sources: the
// ScaledObject and ScaledJob controller and the external metrics API.
func newStandalone(opts Options, cfg, writerCfg *rest.Config, kube kubernetes.Interface, mgr *sources.Manager, st *store.Store, notifier *scaler.Notifier,
	ctrlLead scaler.Leadership, tlsCerts *servingCerts, queueMetrics workqueue.MetricsProvider, log *slog.Logger, reg *prometheus.Registry) (*scaler.Controller, *metricsAPI, error) {
	ctrl, err := scaler.New(scaler.Options{
		Notifier: notifier,
		Config:   writerCfg, Sources: mgr, Store: st,
		Leadership:                    ctrlLead,
		WatchNamespace:                opts.WatchNamespace,
		WatchLabelSelector:            opts.WatchLabelSelector,
		ClusterObjectNamespace:        opts.ClusterObjectNamespace,
		ClusterTriggerAuthTargetCheck: sources.TargetCheck(opts.ClusterTriggerAuthTargetCheck),
		Logger:                        log,
		Metrics:                       scaler.NewMetrics(reg),
		QueueMetrics:                  queueMetrics,
	})
	if err != nil {
		return nil, nil, err
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pushscale_reference_watches",
		Help: "Secrets and ConfigMaps watched because triggers reference them (TriggerAuthentications, *FromEnv variables); at most 64 per object.",
	}, func() float64 { return float64(ctrl.ReferenceWatches()) }))
	api := &metricsAPI{opts: metricsapi.Options{
		Addr: opts.MetricsAPIAddr, Kubeconfig: opts.Kubeconfig, Cert: tlsCerts.metricsAPI,
		Logger: log.With("component", "metricsapi"),
	}, values: ctrl, log: log, preflight: func(ctx context.Context) error {
		_, err := kube.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
		return err
	}}
	if _, err := metricsapi.New(api.opts, ctrl); err != nil {
		return nil, nil, err
	}
	return ctrl, api, nil
}

// readiness is /readyz's question: "" when ready, else why not. In
// standalone mode the controller and the metrics API must be ready; in
// companion mode (ctrl nil) the serving certificate must exist.
func readiness(ctrl *scaler.Controller, api *metricsAPI, ext *companion.Server, certs *servingCerts) func() string {
	return func() string {
		switch {
		case ctrl != nil && !ctrl.Ready():
			return "not ready: informers syncing or triggers without a first value"
		case api != nil && api.Addr() == "":
			return "not ready: external metrics API not serving yet"
		case ext != nil && !certs.ready():
			return "not ready: no serving certificate for the external scaler yet"
		}
		return ""
	}
}

func healthRouter(reg *prometheus.Registry, notReady func() string, elector *leader.Elector, profiling bool) http.Handler {
	r := chi.NewRouter()
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if profiling {
		mountProfiling(r)
	}
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := notReady(); why != "" {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		if !elector.Leading() {
			// Ready all the same: a standby serves the metrics API (or
			// the external scaler) and forwards webhook requests, so it
			// stays in the Services.
			leaderID, _, ok := elector.Leader()
			if !ok {
				leaderID = "none at the moment"
			}
			_, _ = fmt.Fprintf(w, "ok: standby (leader: %s)\n", leaderID)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return r
}

// serve runs an HTTP server until ctx is done, then shuts it down.
func serve(ctx context.Context, srv *http.Server, run func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- run() }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	}
}

func restConfig(opts Options) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if opts.Kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: kubernetes client configuration (--kubeconfig %q): %w", opts.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst
	cfg.UserAgent = "pushscale"
	return cfg, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
