// Package metricsapi serves the external.metrics.k8s.io/v1beta1 API that the
// HorizontalPodAutoscalers of ScaledObjects read, answering every request from
// memory through a Values implementation (the scaler): no broker is queried
// per request.
//
// The API is served with sigs.k8s.io/custom-metrics-apiserver behind the
// kube-apiserver aggregator, exactly where KEDA's metrics adapter sits
// (reference/keda.md section 5): the HPA asks for
//
//	GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=scaledobject.keda.sh/name=<so>
//
// with the metric name lower-cased; the ScaledObject is taken from the
// selector alone, the metric is matched case-insensitively and answered under
// its original name (section 1.6).
//
// Requests are authenticated and authorized by delegation to the
// kube-apiserver, as every aggregated API server does: front-proxy client
// certificates and headers (the requestheader settings read from the
// kube-system/extension-apiserver-authentication ConfigMap), TokenReviews and
// SubjectAccessReviews, all through the kubeconfig given in Options.
//
// Server owns no package-level state and registers no flags on the process's
// global flag sets. The library logs through klog; routing klog elsewhere is
// the process owner's decision (klog is process-wide).
package metricsapi
