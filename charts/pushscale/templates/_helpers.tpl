{{/*
Object names are fixed, as in manifests/gateway: one gateway serves a
cluster (only one APIService can serve external.metrics.k8s.io), and the
gateway finds its APIService, webhook configuration and certificates Secret
by these names.
*/}}

{{/* The selector: the same as manifests/gateway's, so a Deployment applied
with kustomize can be taken over by the chart (selectors are immutable). */}}
{{- define "pushscale.selectorLabels" -}}
app.kubernetes.io/name: pushscale
{{- end }}

{{/* Labels of every object the chart renders. */}}
{{- define "pushscale.labels" -}}
{{ include "pushscale.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "pushscale.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* True (non-empty) when cert-manager issues the serving certificates;
then the gateway manages none. */}}
{{- define "pushscale.certManager" -}}
{{- if .Values.certificates.certManager.enabled }}true{{ end }}
{{- end }}

{{/* True (non-empty) when the gateway makes and rotates its own CA and
serving certificates and patches the caBundles. */}}
{{- define "pushscale.managesCertificates" -}}
{{- if and .Values.certificates.manage (not .Values.certificates.certManager.enabled) }}true{{ end }}
{{- end }}

{{/* Where the cert-manager Secret and the webhook's TLS Secret are mounted. */}}
{{- define "pushscale.certificatesDir" -}}/etc/pushscale/certificates{{- end }}
{{- define "pushscale.webhookTLSDir" -}}/etc/pushscale/webhook-tls{{- end }}

{{/* The annotation that has cert-manager's CA injector write caBundle. */}}
{{- define "pushscale.injectCA" -}}
{{- if include "pushscale.certManager" . -}}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/pushscale-serving
{{- end }}
{{- end }}

{{/* Checks that make no sense to render. */}}
{{- define "pushscale.validate" -}}
{{- if not (or .Values.certificates.manage .Values.certificates.certManager.enabled) }}
{{- fail "certificates: set certificates.manage=true (the gateway's own CA) or certificates.certManager.enabled=true: without either, the APIService and the admission webhook have no CA to verify the gateway with" }}
{{- end }}
{{- if and .Values.webhook.ingress.enabled (not .Values.webhook.ingress.hosts) }}
{{- fail "webhook.ingress.enabled needs at least one entry in webhook.ingress.hosts" }}
{{- end }}
{{- end }}
