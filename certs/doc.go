// Package certs gives the gateway its own TLS certificates, as KEDA's
// operator does, so an install needs neither cert-manager nor
// insecureSkipTLSVerify.
//
// A Manager keeps a CA and a serving certificate in one Secret
// (kubernetes.io/tls with tls.crt, tls.key, ca.crt and ca.key), creating
// or rotating them when they are missing, unusable or due, with optimistic
// concurrency so that replicas racing for the Secret converge on one
// certificate (the loser re-reads and uses the winner's). It keeps the
// caBundle of the named APIService and ValidatingWebhookConfiguration equal
// to its CA, patching it back whenever something resets it.
//
// A Holder is what the servers read: tls.Config.GetCertificate for the
// admission and webhook listeners, and a dynamiccertificates provider for
// the external metrics API, so a rotation is served without a restart. The
// Holder is fed either by a Manager or, on the cert-manager path, by
// WatchFiles over a mounted Secret.
//
// No private key is ever logged, put in an error, an event or a metric.
package certs
