// Package kedametrics exports, beside pushscale's own metrics, the
// Prometheus metric set of KEDA 2.20 (its operator's and metrics server's
// pkg/metricscollector), with KEDA's names and label names, so dashboards
// and alerts written for KEDA keep working after the switch. The values come
// from pushscale's own events; the help texts are pushscale's.
//
// What feeds each metric (label "type" is scaledobject or scaledjob, as in
// KEDA; "scaler" is the trigger type, "triggerIndex" its index in the
// object's triggers, "metric" the metric name served to the HPA):
//
//   - keda_build_info{version,git_commit,goversion,goos,goarch}: gauge,
//     always 1: the running build (package version).
//   - keda_scaler_metrics_value{namespace,metric,scaledObject,scaler,triggerIndex,type}:
//     gauge, a trigger's value as the scaler's decision last saw it in the
//     store (pushed by a webhook or broker notification, or read from the
//     broker). Written on every decision of the object.
//   - keda_scaler_active{...same}: gauge, 1 while the trigger's value is
//     known, not failing and above its activation threshold.
//   - keda_scaler_detail_errors_total{...same}: counter, failed reads of the
//     trigger's broker resource (the store's FailedReads). Exported at 0 from
//     the object's first decision on, as KEDA does.
//   - keda_scaled_object_errors_total{namespace,scaledObject}: counter, the
//     same failed reads summed over a ScaledObject's triggers (KEDA counts a
//     ScaledObject error with every scaler error). At 0 from the first
//     decision.
//   - keda_scaled_job_errors_total{namespace,scaledJob}: counter, failed
//     trigger reads and failed Job creations of a ScaledJob.
//   - keda_scaled_object_paused{namespace,scaledObject}: gauge, 1 while one
//     of the pause annotations is in effect.
//   - keda_trigger_registered_total{type}: gauge, the triggers of the
//     ScaledObjects and ScaledJobs the scaler manages, by trigger type.
//   - keda_webhook_scaled_object_validations_total{namespace,action}:
//     counter, ScaledObject creates and updates checked by the admission
//     webhook (action create or update; NewValidations, fed by the gateway
//     through admission.Handler.Reviewed). Only when admission is served.
//   - keda_resource_registered_total{type,namespace}: gauge, the
//     ScaledObjects (type scaled_object) and ScaledJobs (scaled_job) the
//     scaler manages, per namespace.
//
// Not exported, because pushscale has no event that would give them their
// KEDA meaning (a series that is always 0 would be a lie on a dashboard):
//
//   - keda_scaler_metrics_latency_seconds: KEDA times each scaler's
//     GetMetricsAndActivity call on its polling loop. pushscale does not
//     fetch per trigger: values are pushed (webhooks, notifications) or read
//     once per broker resource for every trigger sharing it. The time from a
//     value to its /scale write is pushscale_event_to_scale_seconds.
//   - keda_internal_scale_loop_latency_seconds{namespace,type,resource}: the
//     lag of KEDA's per-object polling loop behind its schedule. pushscale
//     has no per-object loop; decisions wait in a workqueue, whose wait is
//     workqueue_queue_duration_seconds.
//   - keda_resource_registered_total for trigger_authentication and
//     cluster_trigger_authentication: pushscale reads those objects only
//     when a trigger references them and keeps no list of all of them.
//   - keda_scaler_empty_upstream_responses_total: counts empty results of
//     KEDA's Prometheus-query scalers; pushscale has no such trigger.
//   - keda_scaler_http_requests_total and
//     keda_scaler_http_request_duration_seconds: outbound HTTP made by
//     KEDA's HTTP-based scalers; pushscale's sources make none.
//   - keda_cloudeventsource_events_emitted_total and
//     keda_cloudeventsource_events_queued: pushscale has no CloudEventSource.
//   - keda_internal_metricsservice_grpc_*: the gRPC link between KEDA's
//     operator and metrics server; pushscale is one process.
//   - keda_webhook_scaled_object_validation_errors_total{namespace,action,reason}:
//     its reason is one of KEDA's own checks (incorrect-replicas,
//     other-hpa, ...), which pushscale's admission checks do not map onto
//     one to one; refusals are in the admission log lines instead.
//
// KEDA 2.20 exports no deprecated Prometheus names any more: the old
// keda_scaler_metrics_latency (ms), keda_scaler_errors,
// keda_scaler_errors_total, keda_scaled_object_errors,
// keda_scaled_job_errors, keda_resource_totals, keda_trigger_totals and
// keda_internal_scale_loop_latency were exported up to 2.16 and removed in
// 2.17 (only KEDA's OpenTelemetry exporter keeps deprecated instruments).
// None of them is exported here.
//
// Cost: the series of an object are its triggers' (three each) and two or
// three per object; all are deleted when the object or one of its triggers
// goes away (Declare and Forget), by exact labels, so a deletion costs the
// object's own series, not a scan of all of them.
package kedametrics
