// Command pushscale runs the pushscale gateway: an event-driven autoscaler
// for Kubernetes that reads KEDA's keda.sh/v1alpha1 resources.
//
// Every flag can also be set in the environment as PUSHSCALE_<FLAG> in
// upper snake case (--webhook-addr: PUSHSCALE_WEBHOOK_ADDR). A flag wins
// over the environment, the environment over the default.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kelseyhightower/envconfig"
	"github.com/redis/go-redis/v9"

	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/gateway/clientgo"
	"github.com/pushscale/pushscale/version"
)

// errVersion is parse's answer to --version.
var errVersion = errors.New("version asked")

func main() {
	opts, err := parse(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		return
	}
	if err == errVersion {
		fmt.Println(version.String())
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pushscale: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var level slog.Level
	_ = level.UnmarshalText([]byte(opts.LogLevel)) // validated by Run
	opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// go-redis logs connection trouble through a process-wide logger; send
	// it to ours at debug level (the source reports the same as conditions).
	redis.SetLogger(redisLogger{opts.Logger.With("source", "redis")})
	// klog (client-go, the apiserver library) into ours, set before
	// anything logs; Run routes it to its logger.
	clientgo.InstallKlog()
	if err := gateway.Run(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "pushscale: %v\n", err)
		os.Exit(1)
	}
}

// parse reads the environment (with defaults) and then the flags.
func parse(args []string, out *os.File) (gateway.Options, error) {
	var o gateway.Options
	if err := envconfig.Process("PUSHSCALE", &o); err != nil {
		return o, fmt.Errorf("environment: %w", err)
	}
	fs := flag.NewFlagSet("pushscale", flag.ContinueOnError)
	fs.SetOutput(out)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file (default: in-cluster configuration)")
	fs.StringVar(&o.WebhookAddr, "webhook-addr", o.WebhookAddr, "address of the webhook stream API")
	fs.StringVar(&o.WebhookTLSCertFile, "webhook-tls-cert-file", o.WebhookTLSCertFile, "TLS certificate for the webhook listener (with --webhook-tls-key-file), reloaded when it changes; wins over the managed certificate")
	fs.StringVar(&o.WebhookTLSKeyFile, "webhook-tls-key-file", o.WebhookTLSKeyFile, "TLS key for the webhook listener")
	fs.BoolVar(&o.WebhookRequireAuth, "webhook-require-auth", o.WebhookRequireAuth, "make webhook triggers without token or hmacSecret Ready=False unless their metadata says allowUnauthenticated: \"true\"; 401 to requests without a credential")
	fs.Float64Var(&o.WebhookRefusalRate, "webhook-refusal-rate", o.WebhookRefusalRate, "refused webhook requests per second per client address before 429 (negative: off)")
	fs.IntVar(&o.WebhookRefusalBurst, "webhook-refusal-burst", o.WebhookRefusalBurst, "burst of refused webhook requests per client address")
	fs.Float64Var(&o.WebhookRateLimit, "webhook-rate-limit", o.WebhookRateLimit, "events per second one stream accepts (0: unlimited)")
	fs.IntVar(&o.WebhookRateBurst, "webhook-rate-burst", o.WebhookRateBurst, "burst of the per-stream rate limit (0: the limit)")
	fs.DurationVar(&o.WebhookReadTimeout, "webhook-read-timeout", o.WebhookReadTimeout, "longest time to read one webhook request, headers and body")
	fs.DurationVar(&o.WebhookWriteTimeout, "webhook-write-timeout", o.WebhookWriteTimeout, "longest time to write one webhook answer")
	fs.DurationVar(&o.WebhookIdleTimeout, "webhook-idle-timeout", o.WebhookIdleTimeout, "longest time a kept-alive webhook connection waits for its next request")
	fs.IntVar(&o.WebhookMaxHeaderBytes, "webhook-max-header-bytes", o.WebhookMaxHeaderBytes, "largest webhook request headers")
	fs.IntVar(&o.WebhookMaxBatchEvents, "webhook-max-batch-events", o.WebhookMaxBatchEvents, "most events in one CloudEvents batch request; more get 413")
	fs.IntVar(&o.WebhookReplayCacheSize, "webhook-replay-cache-size", o.WebhookReplayCacheSize, "timestamped webhook signatures remembered against replays (about 40 bytes each)")
	fs.IntVar(&o.WebhookMaxInFlight, "webhook-max-in-flight", o.WebhookMaxInFlight, "webhook requests handled at once; more get 503 (retryable)")
	fs.Int64Var(&o.WebhookMaxBufferedBytes, "webhook-max-buffered-bytes", o.WebhookMaxBufferedBytes, "body bytes all webhook requests hold together; past it 503 (retryable)")
	fs.IntVar(&o.WebhookMaxStreamsPerNamespace, "webhook-max-streams-per-namespace", o.WebhookMaxStreamsPerNamespace, "most webhook streams one namespace may have; a trigger adding one more is Ready=False")
	fs.DurationVar(&o.WebhookSaveInterval, "webhook-save-interval", o.WebhookSaveInterval, "at most one save of webhook levels to the cluster per interval")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr, "address of /metrics, /healthz and /readyz")
	fs.StringVar(&o.MetricsAPIAddr, "metrics-api-addr", o.MetricsAPIAddr, "address of the external.metrics.k8s.io API (HTTPS)")
	fs.StringVar(&o.MetricsAPICertFile, "metrics-api-cert-file", o.MetricsAPICertFile, "serving certificate of the metrics API, reloaded when it changes (with --manage-certificates=false; neither: self-signed, in memory)")
	fs.StringVar(&o.MetricsAPIKeyFile, "metrics-api-key-file", o.MetricsAPIKeyFile, "serving key of the metrics API")
	fs.StringVar(&o.AdmissionAddr, "admission-addr", o.AdmissionAddr, "address of the validating admission webhook for ScaledObjects, HTTPS (default: off)")
	fs.StringVar(&o.AdmissionTLSCertFile, "admission-tls-cert-file", o.AdmissionTLSCertFile, "serving certificate of the admission webhook, reloaded when it changes (with --manage-certificates=false)")
	fs.StringVar(&o.AdmissionTLSKeyFile, "admission-tls-key-file", o.AdmissionTLSKeyFile, "serving key of the admission webhook")
	fs.BoolVar(&o.ManageCertificates, "manage-certificates", o.ManageCertificates, "keep a CA and serving certificate in --certificate-secret, rotate them, serve them on the metrics API, admission and (--webhook-tls) webhook listeners, and patch the CA into --apiservice-name and --admission-webhook-configuration; false to serve certificate files (cert-manager)")
	fs.StringVar(&o.CertificateSecret, "certificate-secret", o.CertificateSecret, "Secret (in --cluster-object-namespace) of the managed CA and serving certificate")
	fs.DurationVar(&o.CertificateLifetime, "certificate-lifetime", o.CertificateLifetime, "lifetime of the managed serving certificate, replaced when a third remains; the CA lives ten times as long")
	fs.Func("certificate-dns-names", "comma-separated names the managed serving certificate carries besides <svc>.<namespace>.svc[.cluster.local] of pushscale-metrics-api, pushscale-admission and pushscale-webhook (e.g. an Ingress host)", func(s string) error {
		o.CertificateDNSNames = nil
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.CertificateDNSNames = append(o.CertificateDNSNames, n)
			}
		}
		return nil
	})
	fs.StringVar(&o.APIServiceName, "apiservice-name", o.APIServiceName, "APIService whose caBundle is kept equal to the managed CA (\"\": none)")
	fs.StringVar(&o.AdmissionWebhookConfiguration, "admission-webhook-configuration", o.AdmissionWebhookConfiguration, "ValidatingWebhookConfiguration whose webhooks' caBundle is kept equal to the managed CA (\"\": none)")
	fs.BoolVar(&o.WebhookTLS, "webhook-tls", o.WebhookTLS, "serve the webhook listener over HTTPS with the managed certificate (implied by --webhook-tls-cert-file)")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve Go's runtime profiles (net/http/pprof) under /debug/pprof/ on --metrics-addr")
	fs.Func("kube-api-qps", fmt.Sprintf("queries per second to the apiserver (default %v)", o.KubeAPIQPS), func(s string) error {
		var v float32
		_, err := fmt.Sscan(s, &v)
		o.KubeAPIQPS = v
		return err
	})
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "burst of queries to the apiserver")
	fs.DurationVar(&o.RepairInterval, "repair-interval", o.RepairInterval, "slow read sweep of idle, push-healthy triggers")
	fs.BoolVar(&o.RedisConfigureNotifications, "redis-configure-notifications", o.RedisConfigureNotifications, "add the keyspace notification classes Redis triggers need (merged with the server's)")
	fs.DurationVar(&o.RabbitMQIdlePollInterval, "rabbitmq-idle-poll-interval", o.RabbitMQIdlePollInterval, "read RabbitMQ triggers at most this far apart, whatever their pollingInterval: the wait of a publish to a queue that cannot be pushed (default exchange only, protocol http); 0: pollingInterval")
	fs.Func("disable-push", "comma-separated trigger types to poll instead of subscribing (e.g. redis,redis-streams)", func(s string) error {
		o.DisablePush = strings.Split(s, ",")
		return nil
	})
	fs.StringVar(&o.WatchNamespace, "watch-namespace", o.WatchNamespace, "only this namespace (default: all)")
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", o.WatchLabelSelector, "only ScaledObjects these labels select, e.g. \"autoscaler=pushscale\" (default: all)")
	fs.StringVar(&o.ClusterTriggerAuthTargetCheck, "cluster-trigger-auth-target-check", o.ClusterTriggerAuthTargetCheck, "a trigger using a ClusterTriggerAuthentication's credentials with a target it does not allow (annotation pushscale.io/allowed-targets): enforce (Ready=False), warn (an Event) or off (KEDA's behaviour)")
	fs.StringVar(&o.ClusterObjectNamespace, "cluster-object-namespace", o.ClusterObjectNamespace, "namespace of ClusterTriggerAuthentication Secrets, saved webhook levels and the leader Lease (default: $POD_NAMESPACE, else pushscale-system)")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "elect one leader among the replicas on the Lease pushscale-leader: it alone writes; standbys serve the metrics API and forward webhook requests to it")
	fs.DurationVar(&o.LeaderElectLeaseDuration, "leader-elect-lease-duration", o.LeaderElectLeaseDuration, "how long a leader's Lease holds without renewal: the longest failover after a crash (plus the retry period)")
	fs.DurationVar(&o.LeaderElectRenewDeadline, "leader-elect-renew-deadline", o.LeaderElectRenewDeadline, "how long the leader retries renewing before it stops writing and exits")
	fs.DurationVar(&o.LeaderElectRetryPeriod, "leader-elect-retry-period", o.LeaderElectRetryPeriod, "how often standbys try to take the Lease and the leader renews it")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress, "IP at which the other replicas reach this one's webhook listener, published on the Lease while it leads (default: $POD_IP)")
	fs.StringVar(&o.Mode, "mode", o.Mode, "standalone (pushscale instead of KEDA) or companion (beside KEDA: sources, webhook streams and the external scaler server only; no controllers, no APIService)")
	fs.StringVar(&o.ExternalScalerAddr, "external-scaler-addr", o.ExternalScalerAddr, "address of KEDA's external scaler protocol (gRPC over TLS) for external-push triggers naming a pushscaleType (default: off; needs --external-scaler-client-ca-file)")
	fs.StringVar(&o.ExternalScalerClientCAFile, "external-scaler-client-ca-file", o.ExternalScalerClientCAFile, "CA bundle (PEM) that external scaler callers' client certificates must verify against (KEDA's operator); re-read when it changes")
	fs.IntVar(&o.ExternalScalerMaxTriggers, "external-scaler-max-triggers", o.ExternalScalerMaxTriggers, "most triggers watched for external scaler callers")
	fs.IntVar(&o.ExternalScalerMaxTriggersPerNamespace, "external-scaler-max-triggers-per-namespace", o.ExternalScalerMaxTriggersPerNamespace, "most triggers watched for external scaler callers in one namespace")
	fs.DurationVar(&o.ExternalScalerIdleTimeout, "external-scaler-idle-timeout", o.ExternalScalerIdleTimeout, "unwatch an external scaler trigger no stream and no call used for this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *showVersion {
		return o, errVersion
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// redisLogger adapts slog to go-redis's logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
