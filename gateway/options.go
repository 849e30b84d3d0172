package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/pushscale/pushscale/sources"
	"k8s.io/apimachinery/pkg/labels"
)

// Options configure the gateway. Field tags give each flag's environment
// variable (PUSHSCALE_<NAME>) and default; cmd/pushscale turns them into
// flags. Fields without a tag are for embedding (tests, the demo).
type Options struct {
	// Kubeconfig is the kubeconfig file; empty means in-cluster.
	Kubeconfig string `envconfig:"KUBECONFIG"`
	// WebhookAddr is where webhook streams are served.
	WebhookAddr string `envconfig:"WEBHOOK_ADDR" default:":8080"`
	// WebhookTLSCertFile and WebhookTLSKeyFile enable TLS on the webhook
	// listener.
	WebhookTLSCertFile string `envconfig:"WEBHOOK_TLS_CERT_FILE"`
	WebhookTLSKeyFile  string `envconfig:"WEBHOOK_TLS_KEY_FILE"`
	// WebhookRequireAuth makes webhook triggers without a token or
	// hmacSecret Ready=False unless their metadata says
	// allowUnauthenticated: "true", and answers 401 to requests without a
	// credential for every stream that is not open. On by default (the
	// flag and the environment); an embedder's zero Options leave it off.
	WebhookRequireAuth bool `envconfig:"WEBHOOK_REQUIRE_AUTH" default:"true"`
	// WebhookRefusalRate and WebhookRefusalBurst throttle each client
	// address whose requests are refused (400, 401, 405, 413, 415): past
	// the burst, 429 until its budget refills at the rate. Zero: the
	// defaults (10/s, 50); a negative rate turns it off.
	WebhookRefusalRate  float64 `envconfig:"WEBHOOK_REFUSAL_RATE" default:"10"`
	WebhookRefusalBurst int     `envconfig:"WEBHOOK_REFUSAL_BURST" default:"50"`
	// WebhookRateLimit is the events per second one stream accepts (0:
	// unlimited); WebhookRateBurst the bucket size (0: the limit).
	WebhookRateLimit float64 `envconfig:"WEBHOOK_RATE_LIMIT" default:"10000"`
	WebhookRateBurst int     `envconfig:"WEBHOOK_RATE_BURST" default:"0"`
	// WebhookReadTimeout bounds reading one request, headers and body;
	// WebhookWriteTimeout writing its answer; WebhookIdleTimeout a
	// kept-alive connection between requests; WebhookMaxHeaderBytes the
	// request headers. Zero: the defaults in servers.go.
	WebhookReadTimeout    time.Duration `envconfig:"WEBHOOK_READ_TIMEOUT" default:"10s"`
	WebhookWriteTimeout   time.Duration `envconfig:"WEBHOOK_WRITE_TIMEOUT" default:"10s"`
	WebhookIdleTimeout    time.Duration `envconfig:"WEBHOOK_IDLE_TIMEOUT" default:"1m"`
	WebhookMaxHeaderBytes int           `envconfig:"WEBHOOK_MAX_HEADER_BYTES" default:"32768"`
	// WebhookMaxBatchEvents bounds the events of one CloudEvents batch
	// request (413 past it). Zero: the default.
	WebhookMaxBatchEvents int `envconfig:"WEBHOOK_MAX_BATCH_EVENTS" default:"1000"`
	// WebhookReplayCacheSize bounds the timestamped signatures remembered
	// against replays (about 40 bytes each). Zero: the default.
	WebhookReplayCacheSize int `envconfig:"WEBHOOK_REPLAY_CACHE_SIZE" default:"1048576"`
	// WebhookMaxInFlight bounds the webhook requests handled at once;
	// WebhookMaxBufferedBytes the body bytes they hold together. Past
	// either, requests are answered 503 (retryable). Zero: the defaults.
	WebhookMaxInFlight      int   `envconfig:"WEBHOOK_MAX_IN_FLIGHT" default:"4096"`
	WebhookMaxBufferedBytes int64 `envconfig:"WEBHOOK_MAX_BUFFERED_BYTES" default:"67108864"`
	// WebhookSaveInterval throttles saving webhook levels to the cluster.
	WebhookSaveInterval time.Duration `envconfig:"WEBHOOK_SAVE_INTERVAL" default:"1s"`
	// WebhookMaxStreamsPerNamespace bounds one namespace's webhook streams,
	// so its saved levels fit one ConfigMap (0: the default).
	WebhookMaxStreamsPerNamespace int `envconfig:"WEBHOOK_MAX_STREAMS_PER_NAMESPACE" default:"1000"`
	// MetricsAddr serves Prometheus /metrics, /healthz and /readyz.
	MetricsAddr string `envconfig:"METRICS_ADDR" default:":9090"`
	// MetricsAPIAddr serves external.metrics.k8s.io over HTTPS.
	MetricsAPIAddr string `envconfig:"METRICS_API_ADDR" default:":6443"`
	// MetricsAPICertFile and MetricsAPIKeyFile are its serving certificate;
	// empty: a self-signed one made in memory.
	MetricsAPICertFile string `envconfig:"METRICS_API_CERT_FILE"`
	MetricsAPIKeyFile  string `envconfig:"METRICS_API_KEY_FILE"`
	// AdmissionAddr serves the validating admission webhook for
	// ScaledObjects (package admission) over HTTPS; "" turns it off. It
	// needs ManageCertificates or AdmissionTLSCertFile and
	// AdmissionTLSKeyFile.
	AdmissionAddr        string `envconfig:"ADMISSION_ADDR"`
	AdmissionTLSCertFile string `envconfig:"ADMISSION_TLS_CERT_FILE"`
	AdmissionTLSKeyFile  string `envconfig:"ADMISSION_TLS_KEY_FILE"`
	// ManageCertificates makes the gateway keep its own CA and serving
	// certificate (package certs) in the Secret CertificateSecret of
	// ClusterObjectNamespace, rotate them before expiry, serve them on the
	// metrics API, the admission webhook and (with WebhookTLS) the webhook
	// listener without a restart, and keep the caBundle of
	// APIServiceName and AdmissionWebhookConfiguration equal to its CA.
	// On by default (the flag and the environment); an embedder's zero
	// Options leave it off. Not with the metrics API's and the admission
	// webhook's certificate files: those are the cert-manager path. The
	// webhook listener's files, when given, win over the managed
	// certificate (a public one for clients outside the cluster).
	ManageCertificates bool `envconfig:"MANAGE_CERTIFICATES" default:"true"`
	// CertificateSecret names the Secret; "": the default.
	CertificateSecret string `envconfig:"CERTIFICATE_SECRET" default:"pushscale-certificates"`
	// CertificateLifetime is the serving certificate's (the CA lives ten
	// times as long); it is replaced when a third remains. Zero: the
	// default (a year).
	CertificateLifetime time.Duration `envconfig:"CERTIFICATE_LIFETIME" default:"8760h"`
	// CertificateDNSNames are names the serving certificate carries
	// besides <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local of the
	// Services pushscale-metrics-api, pushscale-admission and
	// pushscale-webhook: an Ingress host, localhost for tests.
	CertificateDNSNames []string `envconfig:"CERTIFICATE_DNS_NAMES"`
	// APIServiceName and AdmissionWebhookConfiguration are the APIService
	// and ValidatingWebhookConfiguration whose caBundle the gateway keeps
	// equal to its CA; "" leaves one alone (an embedder's zero Options
	// patch neither).
	APIServiceName                string `envconfig:"APISERVICE_NAME" default:"v1beta1.external.metrics.k8s.io"`
	AdmissionWebhookConfiguration string `envconfig:"ADMISSION_WEBHOOK_CONFIGURATION" default:"pushscale"`
	// WebhookTLS serves the webhook listener over HTTPS with the managed
	// certificate (ManageCertificates); the webhook TLS files imply it.
	WebhookTLS bool `envconfig:"WEBHOOK_TLS" default:"false"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// Profiling serves Go's runtime profiles (net/http/pprof: heap, CPU,
	// goroutines, …) under /debug/pprof/ on the MetricsAddr listener. Off
	// by default: a CPU profile costs the process while it runs, and the
	// profiles tell anyone who reaches the port about its internals.
	Profiling bool `envconfig:"PROFILING" default:"false"`
	// KubeAPIQPS and KubeAPIBurst bound the client's request rate.
	KubeAPIQPS   float32 `envconfig:"KUBE_API_QPS" default:"100"`
	KubeAPIBurst int     `envconfig:"KUBE_API_BURST" default:"200"`
	// RepairInterval is the slow read sweep of idle push-healthy triggers.
	RepairInterval time.Duration `envconfig:"REPAIR_INTERVAL" default:"30m"`
	// RedisConfigureNotifications lets the gateway add the keyspace
	// notification classes its Redis triggers need (merged into the
	// server's notify-keyspace-events, never replacing them).
	RedisConfigureNotifications bool `envconfig:"REDIS_CONFIGURE_NOTIFICATIONS" default:"false"`
	// RabbitMQIdlePollInterval reads a RabbitMQ trigger at most this far
	// apart whatever its pollingInterval: the wait of a publish to a queue
	// whose push path is unavailable (fed only through the default
	// exchange, protocol http). 0: each trigger's pollingInterval.
	RabbitMQIdlePollInterval time.Duration `envconfig:"RABBITMQ_IDLE_POLL_INTERVAL" default:"0s"`
	// DisablePush lists trigger types (comma-separated, e.g.
	// "redis,redis-streams") whose sources must not subscribe: they are
	// polled every pollingInterval, as KEDA would. For comparisons.
	DisablePush []string `envconfig:"DISABLE_PUSH"`
	// WatchNamespace limits the gateway to one namespace ("": all).
	WatchNamespace string `envconfig:"WATCH_NAMESPACE"`
	// WatchLabelSelector limits the gateway to the ScaledObjects whose
	// labels it selects (a Kubernetes label selector, e.g.
	// "autoscaler=pushscale" or "team in (a,b)"; "": all), so a cluster
	// can move from KEDA group by group. TriggerAuthentications are not
	// filtered: every selected object can use any of them.
	WatchLabelSelector string `envconfig:"WATCH_LABEL_SELECTOR"`
	// ClusterObjectNamespace holds ClusterTriggerAuthentications' Secrets
	// and the saved webhook levels; default the pod's namespace
	// ($POD_NAMESPACE), else "pushscale-system".
	ClusterObjectNamespace string `envconfig:"CLUSTER_OBJECT_NAMESPACE"`
	// ClusterTriggerAuthTargetCheck says what happens when a trigger that
	// uses a ClusterTriggerAuthentication's credentials names a target the
	// ClusterTriggerAuthentication does not allow: enforce (Ready=False),
	// warn (a Warning Event) or off (KEDA's behaviour). "" is enforce.
	ClusterTriggerAuthTargetCheck string `envconfig:"CLUSTER_TRIGGER_AUTH_TARGET_CHECK" default:"enforce"`
	// LeaderElect makes the replicas elect one leader on the Lease
	// pushscale-leader in ClusterObjectNamespace: the leader alone writes
	// (scale, HPAs, status, finalizers, Events, Jobs, the saved webhook
	// levels); standbys serve the metrics API from their own memory and
	// forward webhook requests to the leader. On by default (the flag and
	// the environment); an embedder's zero Options leave it off: the one
	// replica always leads.
	LeaderElect bool `envconfig:"LEADER_ELECT" default:"true"`
	// LeaderElectLeaseDuration, LeaderElectRenewDeadline and
	// LeaderElectRetryPeriod are client-go's leader election timings. Zero:
	// the defaults (15s, 10s, 2s).
	LeaderElectLeaseDuration time.Duration `envconfig:"LEADER_ELECT_LEASE_DURATION" default:"15s"`
	LeaderElectRenewDeadline time.Duration `envconfig:"LEADER_ELECT_RENEW_DEADLINE" default:"10s"`
	LeaderElectRetryPeriod   time.Duration `envconfig:"LEADER_ELECT_RETRY_PERIOD" default:"2s"`
	// AdvertiseAddress is the host (an IP) other replicas reach this one's
	// webhook listener at, published on the Lease while it leads; ""
	// means $POD_IP, else the webhook listener's own IP when it is bound
	// to one.
	AdvertiseAddress string `envconfig:"ADVERTISE_ADDRESS"`

	// Mode is standalone (pushscale replaces KEDA) or companion (beside
	// KEDA: sources, webhook streams and the external scaler server only;
	// see ModeCompanion). "": standalone.
	Mode string `envconfig:"MODE" default:"standalone"`
	// ExternalScalerAddr serves KEDA's external scaler protocol over TLS
	// (package companion) for triggers of type external-push whose
	// scalerAddress points here; "" turns it off. It needs
	// ExternalScalerClientCAFile.
	ExternalScalerAddr string `envconfig:"EXTERNAL_SCALER_ADDR"`
	// ExternalScalerClientCAFile is the CA bundle (PEM) a caller's client
	// certificate must verify against; callers without one are refused at
	// the handshake. Re-read when it changes.
	ExternalScalerClientCAFile string `envconfig:"EXTERNAL_SCALER_CLIENT_CA_FILE"`
	// ExternalScalerMaxTriggers and ExternalScalerMaxTriggersPerNamespace
	// bound the triggers watched for external scaler callers;
	// ExternalScalerIdleTimeout unwatches one no stream and no call used
	// for that long. Zero: the defaults (10000, 1000, 10m).
	ExternalScalerMaxTriggers             int           `envconfig:"EXTERNAL_SCALER_MAX_TRIGGERS" default:"10000"`
	ExternalScalerMaxTriggersPerNamespace int           `envconfig:"EXTERNAL_SCALER_MAX_TRIGGERS_PER_NAMESPACE" default:"1000"`
	ExternalScalerIdleTimeout             time.Duration `envconfig:"EXTERNAL_SCALER_IDLE_TIMEOUT" default:"10m"`

	// Logger overrides LogLevel's logger when set.
	Logger *slog.Logger `ignored:"true"`
	// Registry receives the gateway's metrics; default a new registry.
	Registry *prometheus.Registry `ignored:"true"`
}

// leaderDefaults fills the leader election timings an embedder left zero.
func (o *Options) leaderDefaults() {
	if !o.LeaderElect {
		return
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.LeaderElectLeaseDuration, 15 * time.Second}, {&o.LeaderElectRenewDeadline, 10 * time.Second}, {&o.LeaderElectRetryPeriod, 2 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
}

// validate checks o after defaults and names the bad field.
func (o Options) validate() error {
	var errs []error
	for name, addr := range map[string]string{"webhook-addr": o.WebhookAddr, "metrics-addr": o.MetricsAddr, "metrics-api-addr": o.MetricsAPIAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: %w", name, addr, err))
		}
	}
	if o.AdmissionAddr != "" {
		if _, _, err := net.SplitHostPort(o.AdmissionAddr); err != nil {
			errs = append(errs, fmt.Errorf("--admission-addr %q: %w", o.AdmissionAddr, err))
		}
		if !o.ManageCertificates && (o.AdmissionTLSCertFile == "" || o.AdmissionTLSKeyFile == "") {
			errs = append(errs, errors.New("--admission-addr needs --manage-certificates or --admission-tls-cert-file and --admission-tls-key-file (the apiserver calls webhooks over HTTPS only)"))
		}
	}
	if (o.WebhookTLSCertFile == "") != (o.WebhookTLSKeyFile == "") {
		errs = append(errs, errors.New("--webhook-tls-cert-file and --webhook-tls-key-file go together"))
	}
	if (o.AdmissionTLSCertFile == "") != (o.AdmissionTLSKeyFile == "") {
		errs = append(errs, errors.New("--admission-tls-cert-file and --admission-tls-key-file go together"))
	}
	errs = append(errs, o.validateCertificates()...)
	if o.WebhookRateLimit < 0 {
		errs = append(errs, fmt.Errorf("--webhook-rate-limit %v: must not be negative", o.WebhookRateLimit))
	}
	if o.WebhookReadTimeout < 0 || o.WebhookWriteTimeout < 0 || o.WebhookIdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("--webhook-read-timeout %v / --webhook-write-timeout %v / --webhook-idle-timeout %v: must not be negative",
			o.WebhookReadTimeout, o.WebhookWriteTimeout, o.WebhookIdleTimeout))
	}
	if o.WebhookMaxHeaderBytes < 0 {
		errs = append(errs, fmt.Errorf("--webhook-max-header-bytes %d: must not be negative", o.WebhookMaxHeaderBytes))
	}
	if o.WebhookMaxBatchEvents < 0 {
		errs = append(errs, fmt.Errorf("--webhook-max-batch-events %d: must not be negative", o.WebhookMaxBatchEvents))
	}
	if o.WebhookReplayCacheSize < 0 {
		errs = append(errs, fmt.Errorf("--webhook-replay-cache-size %d: must not be negative", o.WebhookReplayCacheSize))
	}
	if o.WebhookMaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("--webhook-max-in-flight %d: must not be negative", o.WebhookMaxInFlight))
	}
	if o.WebhookMaxBufferedBytes < 0 {
		errs = append(errs, fmt.Errorf("--webhook-max-buffered-bytes %d: must not be negative", o.WebhookMaxBufferedBytes))
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps %v / --kube-api-burst %d: must be positive", o.KubeAPIQPS, o.KubeAPIBurst))
	}
	if o.RabbitMQIdlePollInterval < 0 {
		errs = append(errs, fmt.Errorf("--rabbitmq-idle-poll-interval %v: must not be negative", o.RabbitMQIdlePollInterval))
	}
	if o.RepairInterval <= 0 {
		errs = append(errs, fmt.Errorf("--repair-interval %v: must be positive", o.RepairInterval))
	}
	if o.WebhookMaxStreamsPerNamespace < 0 || o.WebhookMaxStreamsPerNamespace > maxStreamsPerNamespace {
		errs = append(errs, fmt.Errorf("--webhook-max-streams-per-namespace %d: must be 1 to %d (a namespace's saved levels must fit one ConfigMap)",
			o.WebhookMaxStreamsPerNamespace, maxStreamsPerNamespace))
	}
	switch sources.TargetCheck(o.ClusterTriggerAuthTargetCheck) {
	case "", sources.TargetCheckEnforce, sources.TargetCheckWarn, sources.TargetCheckOff:
	default:
		errs = append(errs, fmt.Errorf("--cluster-trigger-auth-target-check %q: must be enforce, warn or off", o.ClusterTriggerAuthTargetCheck))
	}
	if o.WebhookSaveInterval <= 0 {
		errs = append(errs, fmt.Errorf("--webhook-save-interval %v: must be positive", o.WebhookSaveInterval))
	}
	if o.LeaderElect {
		d, r, p := o.LeaderElectLeaseDuration, o.LeaderElectRenewDeadline, o.LeaderElectRetryPeriod
		// client-go's own rules (retry × 1.2: its jitter).
		if p <= 0 || r <= time.Duration(1.2*float64(p)) || d <= r {
			errs = append(errs, fmt.Errorf("--leader-elect-lease-duration %v / --leader-elect-renew-deadline %v / --leader-elect-retry-period %v: must be lease duration > renew deadline > 1.2 × retry period > 0", d, r, p))
		}
	}
	if o.AdvertiseAddress != "" && net.ParseIP(o.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q: must be an IP address", o.AdvertiseAddress))
	}
	if _, err := labels.Parse(o.WatchLabelSelector); err != nil {
		errs = append(errs, fmt.Errorf("--watch-label-selector %q: %w", o.WatchLabelSelector, err))
	}
	errs = append(errs, o.validateCompanion()...)
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: must be debug, info, warn or error", o.LogLevel))
	}
	return errors.Join(errs...)
}
