package metricsapi

import (
	"net"

	"github.com/spf13/pflag"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
)

// adapter builds the library's options in code. They are bound to a private
// flag set that is never parsed: AdapterBase falls back to the process-wide
// pflag.CommandLine when FlagSet is nil, and binding also resets some fields
// to their flag defaults, so InstallFlags runs before anything is set.
func (s *Server) adapter(ln net.Listener) *basecmd.AdapterBase {
	a := &basecmd.AdapterBase{
		Name:    "pushscale",
		FlagSet: pflag.NewFlagSet("metricsapi", pflag.ContinueOnError),
	}
	a.InstallFlags()

	// One kubeconfig for everything: the library's own clients, delegated
	// authentication (TokenReviews and the front-proxy settings in
	// kube-system/extension-apiserver-authentication) and delegated
	// authorization (SubjectAccessReviews). Empty means in-cluster for all.
	a.RemoteKubeConfigFile = s.opts.Kubeconfig
	a.Authentication.RemoteKubeConfigFile = s.opts.Kubeconfig
	a.Authorization.RemoteKubeConfigFile = s.opts.Kubeconfig

	serving := a.SecureServing
	serving.Listener = ln
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		serving.BindAddress = tcp.IP
		serving.BindPort = tcp.Port
	}
	serving.ServerCert.CertKey.CertFile = s.opts.CertFile
	serving.ServerCert.CertKey.KeyFile = s.opts.KeyFile
	// Without a certificate directory the library generates its self-signed
	// certificate in memory instead of writing apiserver.local.config/ into
	// the working directory.
	serving.ServerCert.CertDirectory = ""
	serving.ServerCert.FixtureDirectory = ""

	// The OpenAPI v2 and v3 configs are left nil on purpose: AdapterBase.Config
	// fills both from the library's generated definitions (pkg/generated/openapi
	// core and externalmetrics) for the providers installed here.
	a.WithExternalMetrics(NewProvider(s.values))
	return a
}
