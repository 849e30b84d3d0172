package gateway

import (
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/cron"
	"github.com/pushscale/pushscale/sources/etcd"
	"github.com/pushscale/pushscale/sources/external"
	"github.com/pushscale/pushscale/sources/kafka"
	"github.com/pushscale/pushscale/sources/metricsapi"
	"github.com/pushscale/pushscale/sources/mysql"
	"github.com/pushscale/pushscale/sources/natsjetstream"
	"github.com/pushscale/pushscale/sources/postgresql"
	"github.com/pushscale/pushscale/sources/prometheus"
	"github.com/pushscale/pushscale/sources/rabbitmq"
	"github.com/pushscale/pushscale/sources/redis"
	"github.com/pushscale/pushscale/sources/webhook"
)

// registry lists the source families the gateway serves, one per package
// under sources/, configured from opts. newWebhook builds the webhook
// source from its family's Deps (Run's keeps it, to serve its handler and
// restore its levels).
func registry(opts Options, newWebhook func(d sources.Deps) *webhook.Source) sources.Registry {
	return sources.Registry{
		{Name: webhook.Type, Types: []string{webhook.Type}, NeverRead: true, New: func(d sources.Deps) sources.Source { return newWebhook(d) }},
		redis.Family(redis.Options{ConfigureNotifications: opts.RedisConfigureNotifications}),
		kafka.Family(kafka.Options{}),
		natsjetstream.Family(natsjetstream.Options{}),
		rabbitmq.Family(rabbitmq.Options{IdlePollInterval: opts.RabbitMQIdlePollInterval}),
		external.Family(external.Options{}),
		cron.Family(),
		prometheus.Family(),
		metricsapi.Family(),
		postgresql.Family(postgresql.Options{}),
		etcd.Family(etcd.Options{}),
		mysql.Family(mysql.Options{}),
	}
}

// webhookOptions are the webhook source's options from opts and its
// family's Deps. Run adds the events counter and the level saver.
func webhookOptions(opts Options, d sources.Deps) webhook.Options {
	return webhook.Options{
		RequireAuth: opts.WebhookRequireAuth,
		RateLimit:   opts.WebhookRateLimit,
		RateBurst:   opts.WebhookRateBurst,
		Clock:       d.Clock,
		Logger:      d.Logger,
		Recheck:     d.Recheck,

		MaxBatchEvents:   opts.WebhookMaxBatchEvents,
		ReplayCacheSize:  opts.WebhookReplayCacheSize,
		RefusalRate:      opts.WebhookRefusalRate,
		RefusalBurst:     opts.WebhookRefusalBurst,
		MaxInFlight:      opts.WebhookMaxInFlight,
		MaxBufferedBytes: opts.WebhookMaxBufferedBytes,

		MaxStreamsPerNamespace: opts.WebhookMaxStreamsPerNamespace,
	}
}

// Registry returns the source families Run serves, configured from opts
// as Run configures them, so that a sources.Manager built from it parses
// triggers as the gateway does (the test of manifests/samples builds one).
// Its webhook source has no events counter and saves no levels: what
// only a running gateway needs. Building a Manager starts nothing.
func Registry(opts Options) sources.Registry {
	return registry(opts, func(d sources.Deps) *webhook.Source { return webhook.New(d.Sink, webhookOptions(opts, d)) })
}
