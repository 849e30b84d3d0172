package v1alpha1_test

import (
	"testing"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

func TestNormalizeMetricName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain name unchanged", "redis-mylist", "redis-mylist"},
		{"each special character becomes a dash", "a/b.c:d%e(f)g", "a-b-c-d-e-f-g"},
		{"query-escaped slash", "rabbitmq-namespace%2Fname", "rabbitmq-namespace-2Fname"},
		{"case, underscores and spaces kept", "Kafka_Topic With Space", "Kafka_Topic With Space"},
		{"cron base keeps its case", "cron-Etc/UTC-00xxThu-5923xxThu", "cron-Etc-UTC-00xxThu-5923xxThu"},
		{"other punctuation kept", "a*b?c,d=e+f@g", "a*b?c,d=e+f@g"},
		{"runs are not collapsed", "a//b..c", "a--b--c"},
		{"empty", "", ""},
		{"non-ASCII kept", "fila-ñandú.1", "fila-ñandú-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, "NormalizeMetricName", v1alpha1.NormalizeMetricName(tt.in), tt.want)
		})
	}
}

func TestMetricName(t *testing.T) {
	tests := []struct {
		name  string
		index int
		base  string
		want  string
	}{
		{"redis list", 0, "redis-mylist", "s0-redis-mylist"},
		{"kafka topic at index 1", 1, "kafka-my-topic", "s1-kafka-my-topic"},
		{"rabbitmq escaped queue", 1, "rabbitmq-namespace%2Fname", "s1-rabbitmq-namespace-2Fname"},
		{"two-digit index", 12, "nats-jetstream-orders.v1", "s12-nats-jetstream-orders-v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, "MetricName", v1alpha1.MetricName(tt.index, tt.base), tt.want)
		})
	}
}

func TestHPAName(t *testing.T) {
	tests := []struct {
		name     string
		advanced *v1alpha1.AdvancedConfig
		want     string
	}{
		{"default name", nil, "keda-hpa-web"},
		{"advanced without HPA config", &v1alpha1.AdvancedConfig{}, "keda-hpa-web"},
		{"HPA config without name", &v1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &v1alpha1.HorizontalPodAutoscalerConfig{}}, "keda-hpa-web"},
		{"custom name", &v1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &v1alpha1.HorizontalPodAutoscalerConfig{Name: "web-hpa"}}, "web-hpa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			so := &v1alpha1.ScaledObject{}
			so.Name = "web"
			so.Spec.Advanced = tt.advanced
			expect(t, "HPAName", so.HPAName(), tt.want)
		})
	}
}

func TestAnnotationTrue(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        bool
	}{
		{"no annotations", nil, false},
		{"other key only", map[string]string{"a": "true"}, false},
		{"true", map[string]string{v1alpha1.AnnotationPaused: "true"}, true},
		{"1", map[string]string{v1alpha1.AnnotationPaused: "1"}, true},
		{"false", map[string]string{v1alpha1.AnnotationPaused: "false"}, false},
		{"FALSE", map[string]string{v1alpha1.AnnotationPaused: "FALSE"}, false},
		{"0", map[string]string{v1alpha1.AnnotationPaused: "0"}, false},
		{"non-boolean counts as true", map[string]string{v1alpha1.AnnotationPaused: "yes please"}, true},
		{"empty value counts as true", map[string]string{v1alpha1.AnnotationPaused: ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, "AnnotationTrue", v1alpha1.AnnotationTrue(tt.annotations, v1alpha1.AnnotationPaused), tt.want)
		})
	}
}
